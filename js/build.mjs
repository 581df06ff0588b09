// Bundles js/src/index.ts into src/miwd_widget/static/widget.js (+ widget.css), ESM.
// `node build.mjs --watch` rebuilds on change (pair with ANYWIDGET_HMR=1 in Jupyter);
// MIWD_DEBUG=1 keeps the bundle unminified (readable stack traces).
//
// Third-party licence notices: esbuild keeps /*! ... */ and @license comments at the end
// of the file (those of the code regl-scatterplot inlines: kdbush, simplify-js), but the d3
// modules, regl and regl-scatterplot themselves carry none, so the licence text of every
// npm package that ends up in the bundle is appended to widget.js as one more comment
// (identical texts merged). regl-scatterplot ships prebuilt code that inlines its own
// dependencies (gl-matrix, earcut, regl-line, dom-2d-camera, ...) without their notices, so
// a dependency of a bundled package that the bundle never imports as a module is taken to be
// inlined in it and gets its notice too. The notices travel with the code, also into
// save_html pages, and the same text is written to THIRD_PARTY_NOTICES.txt next to widget.js
// (shipped in the wheel). tests/test_wheel.py checks both.
import { existsSync } from "node:fs";
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
  return { id: `${pkg.name}@${pkg.version}`, text, dependencies: Object.keys(pkg.dependencies ?? {}) };
}

/** The folder of package `name` as Node resolves it from the package folder `from`, or null. */
function resolvePackage(from, name) {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (existsSync(path.join(candidate, "package.json"))) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

/**
 * The licences of the bundled packages, and of their dependencies that the bundle never
 * imports as modules (inlined in a package's prebuilt code), each once.
 */
async function licences(bundled, imported) {
  const seen = new Set(bundled.map((root) => path.resolve(root)));
  const found = await Promise.all(bundled.map(licenceOf));
  const pending = found.map((licence, i) => ({ licence, root: bundled[i], via: null }));
  const result = [];
  while (pending.length) {
    const { licence, root, via } = pending.shift();
    result.push(via ? { ...licence, id: `${licence.id} (inlined in the prebuilt code of ${via})` } : licence);
    for (const name of licence.dependencies) {
      if (imported.has(name)) continue;
      const dep = resolvePackage(root, name);
      if (!dep || seen.has(dep)) continue;
      seen.add(dep);
      pending.push({ licence: await licenceOf(dep), root: dep, via: via ?? licence.id });
    }
  }
  return result;
}

/** Plain text: for each distinct licence text, the packages it covers, then the text. */
async function noticeText(metafile, inputs) {
  const bundled = [...new Set(Object.keys(inputs).map(packageRoot).filter(Boolean))].sort();
  const imported = new Set(
    Object.keys(metafile.inputs)
      .map(packageRoot)
      .filter(Boolean)
      .map((root) => root.slice(root.lastIndexOf("node_modules/") + "node_modules/".length)),
  );
  const byText = new Map();
  for (const { id, text } of await licences(bundled, imported)) {
    byText.set(text, [...(byText.get(text) ?? []), id]);
  }
  const sections = [...byText].map(([text, ids]) => `${ids.join(", ")}\n\n${text}`);
  return `Third-party software bundled in this file:\n\n${sections.join(`\n\n${"-".repeat(72)}\n\n`)}`;
}

/** Write the outputs, widget.js with the licence comment appended, and the notices file. */
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
          const body = await noticeText(result.metafile, output ? output[1].inputs : {});
          contents = Buffer.concat([
            Buffer.from(file.contents),
            Buffer.from(`\n/*!\n${body.replaceAll("*/", "* /")}\n*/\n`),
          ]);
          // esbuild's end-of-file legal comments (code inlined without a package of its own) too
          const code = file.text;
          const legal = code.indexOf("/*! Bundled license information:");
          const inlined = legal < 0 ? "" : `\n\n${"-".repeat(72)}\n\n${code.slice(legal).trim()}\n`;
          const name = path.basename(file.path);
          await writeFile(
            path.join(path.dirname(file.path), "THIRD_PARTY_NOTICES.txt"),
            `${body.replace("in this file", `in ${name}`)}${inlined}\n`,
          );
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
