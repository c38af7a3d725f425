// Builds the dashboard bundle into the Python package (one JS and one CSS file).
import { build } from "esbuild";
import { statSync } from "node:fs";

// `node build.mjs --outdir DIR` builds elsewhere (the tests check the committed bundle
// is what the sources build to)
const flag = process.argv.indexOf("--outdir");
const outdir = flag > 0 ? process.argv[flag + 1] : "../invenio_stats_dashboard/ui/static/stats_dashboard";
await build({
  entryPoints: { "stats-dashboard": "src/index.js" },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outdir,
  legalComments: "none",
  logLevel: "warning",
});
for (const name of ["stats-dashboard.js", "stats-dashboard.css"]) {
  console.log(`${name}: ${statSync(`${outdir}/${name}`).size} bytes`);
}
