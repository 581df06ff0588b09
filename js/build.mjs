// Bundles js/src/index.ts into src/miwd_widget/static/widget.js (+ widget.css), ESM.
// `node build.mjs --watch` rebuilds on change (pair with ANYWIDGET_HMR=1 in Jupyter);
// MIWD_DEBUG=1 keeps the bundle unminified (readable stack traces).
//
// Third-party licence notices: esbuild keeps /*! ... */ and @license comments at the end
// of the file (those of the code regl-scatterplot inlines: kdbush, gl-matrix), but the d3
// modules, regl and regl-scatterplot themselves carry none, so the licence text of every
// npm package that ends up in the bundle is appended to widget.js as one more comment
// (identical texts merged). The notices travel with the code, also into save_html pages.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const outdir = "../src/miwd_widget/static";

/** node_modules/<name> or node_modules/@scope/<name> of a bundled input path, or null. */
function packageRoot(input) {
  const parts = input.split("/");
  const i = parts.lastIndexOf("node_modules");
  if (i < 0) return null;
  const length = parts[i + 1]?.startsWith("@") ? 3 : 2;
  return parts.slice(0, i + length).join("/");
}

async function licenceOf(root) {
  const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8"));
  const file = (await readdir(root)).find((name) => /^(licen[cs]e|copying)/i.test(name));
  const text = file ? (await readFile(path.join(root, file), "utf8")).trim() : `License: ${pkg.license ?? "unknown"}`;
  return { id: `${pkg.name}@${pkg.version}`, text };
}

/** One comment: for each distinct licence text, the packages it covers, then the text. */
async function licenceComment(inputs) {
  const roots = [...new Set(Object.keys(inputs).map(packageRoot).filter(Boolean))].sort();
  const byText = new Map();
  for (const { id, text } of await Promise.all(roots.map(licenceOf))) {
    byText.set(text, [...(byText.get(text) ?? []), id]);
  }
  const sections = [...byText].map(([text, ids]) => `${ids.join(", ")}\n\n${text}`);
  const body = `Third-party software bundled in this file:\n\n${sections.join(`\n\n${"-".repeat(72)}\n\n`)}`;
  return `\n/*!\n${body.replaceAll("*/", "* /")}\n*/\n`;
}

/** Write the outputs, widget.js with the licence comment appended. */
const writeWithLicences = {
  name: "licences",
  setup(build) {
    build.onEnd(async (result) => {
      if (result.errors.length || !result.outputFiles) return;
      await mkdir(outdir, { recursive: true });
      for (const file of result.outputFiles) {
        let contents = file.contents;
        if (file.path.endsWith(".js")) {
          const output = Object.entries(result.metafile.outputs).find(([name]) => path.resolve(name) === file.path);
          const notice = await licenceComment(output ? output[1].inputs : {});
          contents = Buffer.concat([Buffer.from(file.contents), Buffer.from(notice)]);
        }
        await writeFile(file.path, contents);
      }
    });
  },
};

const options = {
  entryPoints: { widget: "src/index.ts" },
  bundle: true,
  format: "esm",
  target: ["es2020"],
  outdir,
  minify: !watch && !process.env.MIWD_DEBUG,
  sourcemap: watch ? "inline" : false,
  logLevel: "info",
  legalComments: "eof", // code inlined in the packages (kdbush, gl-matrix in regl-scatterplot) keeps its notices
  metafile: true,
  write: false,
  plugins: [writeWithLicences],
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
