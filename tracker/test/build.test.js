import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";

import { OUTPUT, build } from "../build.mjs";
import { VERSION } from "../src/core.js";

describe("dist/eye.js", () => {
  it("is what the sources build", () => {
    assert.equal(readFileSync(OUTPUT, "utf8"), build(), "run `node tracker/build.mjs`");
  });

  it("is under 5 KB gzipped", () => {
    assert.ok(gzipSync(readFileSync(OUTPUT)).length < 5 * 1024);
  });

  it("carries the package's version", () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url)));
    assert.equal(VERSION, version);
    assert.ok(readFileSync(OUTPUT, "utf8").includes(`The Eye tracker ${version}`));
  });
});
