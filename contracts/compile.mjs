// Compiles the contracts in src/ with the pinned solc and writes their artifacts to
// commerce/chain/artifacts/. With --check it writes nothing and exits 1 when the committed
// artifacts differ from what the sources compile to. --out DIR reads and writes DIR instead.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = dirname(fileURLToPath(import.meta.url));
const outFlag = process.argv.indexOf("--out");
const outDir = outFlag > 0 ? resolve(process.argv[outFlag + 1]) : resolve(here, "..", "commerce", "chain", "artifacts");
const CONTRACTS = ["ElysiumItems", "ElysiumRights"];
const check = process.argv.includes("--check");

function readImport(path) {
  for (const base of [here, join(here, "node_modules")]) {
    const full = join(base, path);
    if (existsSync(full)) return { contents: readFileSync(full, "utf8") };
  }
  return { error: `not found: ${path}` };
}

const sources = {};
for (const file of readdirSync(join(here, "src")).sort()) {
  if (file.endsWith(".sol")) sources[`src/${file}`] = { content: readFileSync(join(here, "src", file), "utf8") };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: "prague",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: readImport }));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
for (const e of output.errors ?? []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);

// The hash covers every source the compiler read (ours and the library's) and the settings.
const used = Object.keys(output.sources).sort();
const hash = createHash("sha256");
hash.update(JSON.stringify(input.settings));
for (const path of used) {
  hash.update(path);
  hash.update(sources[path]?.content ?? readImport(path).contents);
}
const sourceHash = hash.digest("hex");

let stale = [];
mkdirSync(outDir, { recursive: true });
for (const name of CONTRACTS) {
  const compiled = output.contracts[`src/${name}.sol`][name];
  const artifact = {
    contractName: name,
    abi: compiled.abi,
    bytecode: "0x" + compiled.evm.bytecode.object,
    deployedBytecode: "0x" + compiled.evm.deployedBytecode.object,
    compiler: { name: "solc", version: solc.version(), evmVersion: "prague", optimizer: { enabled: true, runs: 200 } },
    sourceHash,
  };
  const text = JSON.stringify(artifact, null, 2) + "\n";
  const path = join(outDir, `${name}.json`);
  if (check) {
    if (!existsSync(path) || readFileSync(path, "utf8") !== text) stale.push(name);
  } else {
    writeFileSync(path, text);
    console.log(`wrote ${name}.json (${(artifact.deployedBytecode.length - 2) / 2} bytes deployed)`);
  }
}
if (stale.length > 0) {
  console.error(`artifacts differ from the sources: ${stale.join(", ")}; run: node contracts/compile.mjs`);
  process.exit(1);
}
