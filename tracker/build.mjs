// Builds dist/eye.js, the classic script The Eye serves at /eye.js, from the ES modules in
// src/: their code in one function scope, imports and exports dropped, full-line comments
// removed. No dependency and no minifier: the result stays readable and under 5 KB gzipped.
// `node build.mjs --check` fails when dist/eye.js is not what the sources build.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const SOURCES = ["src/core.js", "src/browser.js", "src/script.js"];
export const OUTPUT = join(here, "dist", "eye.js");

export function build() {
  const { version } = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
  const body = SOURCES.map((file) =>
    readFileSync(join(here, file), "utf8")
      .split("\n")
      .filter((line) => !/^\s*\/\//.test(line) && !/^\s*(import|export) .* from /.test(line) && !/^\s*export \{/.test(line))
      .map((line) => line.replace(/^export (const|function|async function) /, "$1 "))
      .join("\n"),
  ).join("\n");
  const code = body.replace(/\n\s*\n/g, "\n");
  return `/*! The Eye tracker ${version} */\n(() => {\n"use strict";\n${code}\n})();\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = build();
  if (process.argv.includes("--check")) {
    if (readFileSync(OUTPUT, "utf8") !== built) {
      console.error("dist/eye.js is out of date: run `node tracker/build.mjs`");
      process.exit(1);
    }
  } else {
    writeFileSync(OUTPUT, built);
  }
}
