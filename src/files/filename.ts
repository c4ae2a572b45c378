// Filenames come from users and end up in Content-Disposition headers and UIs,
// never in object keys. Keep what a person would recognise, drop what could
// traverse paths or spoof display.

export const MAX_FILENAME_BYTES = 255;

// C0/C1 controls, and bidi/zero-width formatting marks that can make
// "gnp.exe" display as "exe.png".
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** The sanitized name, or "" when nothing usable is left. */
export function sanitizeFilename(raw: string): string {
  // Last path segment, whether the client used / or \ (browsers on Windows send C:\fakepath\x.png).
  const base = raw.split(/[/\\]/).pop() ?? "";
  let name = base.normalize("NFC").replace(UNSAFE, "").trim();
  // Leading dots hide files; trailing dots and spaces are dropped by Windows.
  name = name.replace(/^\.+/, "").replace(/[. ]+$/, "");
  return truncateUtf8KeepingExtension(name, MAX_FILENAME_BYTES);
}

/** The extension in lower case, with its dot ("" when there is none). */
export function extensionOf(filename: string): string {
  const dot = filename.lastIndexOf(".");
  return dot <= 0 ? "" : filename.slice(dot).toLowerCase();
}

function truncateUtf8KeepingExtension(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name, "utf8") <= maxBytes) return name;
  const ext = extensionOf(name).length <= 16 ? name.slice(name.length - extensionOf(name).length) : "";
  let stem = name.slice(0, name.length - ext.length);
  const budget = maxBytes - Buffer.byteLength(ext, "utf8");
  // Cut by code points so a multi-byte character is never split.
  while (Buffer.byteLength(stem, "utf8") > budget) {
    stem = Array.from(stem).slice(0, -1).join("");
  }
  return stem + ext;
}
