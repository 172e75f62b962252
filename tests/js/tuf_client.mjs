// An independent TUF client: tuf-js's Updater, unmodified, against an edzoo registry.
//
//   node tests/js/tuf_client.mjs METADATA_URL TARGETS_URL METADATA_DIR TRUSTED_ROOT TARGET_PATH OUT_DIR
//
// METADATA_DIR keeps what the client trusts between runs: TRUSTED_ROOT is copied there as
// root.json only when it holds none yet (a client that pinned an older root updates from it).
// Prints one JSON line: {"client", "found", "path", "length", "sha256", "file", "root_version",
// "error"}; "error" is null or {"name", "message"} (exit code 1), so a crash is never silent.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { Updater } from "tuf-js";

async function run(argv) {
  if (argv.length !== 6) {
    throw new Error("usage: tuf_client.mjs METADATA_URL TARGETS_URL METADATA_DIR TRUSTED_ROOT TARGET_PATH OUT_DIR");
  }
  const [metadataBaseUrl, targetBaseUrl, metadataDir, trustedRoot, targetPath, outDir] = argv;
  mkdirSync(metadataDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  if (!existsSync(join(metadataDir, "root.json"))) {
    copyFileSync(trustedRoot, join(metadataDir, "root.json"));
  }
  const updater = new Updater({ metadataDir, metadataBaseUrl, targetDir: outDir, targetBaseUrl });
  await updater.refresh();
  const result = { found: false, path: targetPath, length: null, sha256: null, file: null };
  const info = await updater.getTargetInfo(targetPath);
  if (info !== undefined) {
    const file = join(outDir, targetPath.split("/").pop());
    await updater.downloadTarget(info, file);
    Object.assign(result, {
      found: true,
      length: info.length,
      sha256: createHash("sha256").update(readFileSync(file)).digest("hex"),
      file,
    });
  }
  const root = JSON.parse(readFileSync(join(metadataDir, "root.json"), "utf8"));
  return { ...result, root_version: root.signed.version };
}

try {
  const result = await run(process.argv.slice(2));
  console.log(JSON.stringify({ client: "tuf-js", ...result, error: null }));
} catch (e) {
  const name = e?.constructor?.name ?? typeof e;
  console.log(JSON.stringify({ client: "tuf-js", error: { name, message: String(e?.message ?? e) } }));
  process.exitCode = 1;
}
