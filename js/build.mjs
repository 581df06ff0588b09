// Bundles js/src/index.ts into src/miwd_widget/static/widget.js (+ widget.css), ESM.
// `node build.mjs --watch` rebuilds on change (pair with ANYWIDGET_HMR=1 in Jupyter);
// MIWD_DEBUG=1 keeps the bundle unminified (readable stack traces).
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const options = {
  entryPoints: { widget: "src/index.ts" },
  bundle: true,
  format: "esm",
  target: ["es2020"],
  outdir: "../src/miwd_widget/static",
  minify: !watch && !process.env.MIWD_DEBUG,
  sourcemap: watch ? "inline" : false,
  logLevel: "info",
  legalComments: "none",
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
