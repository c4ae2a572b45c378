// The photo app: signs in (demo token or a pasted one), uploads what is picked
// or dropped, and keeps the gallery in step with the service's WatchFiles stream.
import "./app.css";
import { FileEventType, ProcessingStatus, type File as StoredFile } from "../../gen/file/v1/file_service_pb.js";
import { describeError, fetchDemoToken, files, setToken } from "./api.js";
import { addCard, type Card } from "./gallery.js";
import { confirm, put, requestUploads } from "./upload.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const gallery = $("gallery");
const cards = new Map<string, Card>();
let watching: AbortController | undefined;

function showError(error: unknown): void {
  const line = document.createElement("div");
  line.className = "error";
  line.textContent = describeError(error);
  $("errors").append(line);
}

async function signIn(token: string, who: string): Promise<void> {
  setToken(token);
  $("who").textContent = who;
  $("errors").replaceChildren();
  gallery.replaceChildren();
  cards.clear();
  watching?.abort();
  watching = new AbortController();
  try {
    const { files: existing } = await files.listFiles({ pageSize: 100 });
    for (const file of existing.reverse()) track(file.id, addCard(gallery, file.filename), file);
    void watch(watching.signal);
  } catch (error) {
    showError(error);
  }
}

async function watch(signal: AbortSignal): Promise<void> {
  try {
    for await (const message of files.watchFiles({}, { signal })) {
      if (message.kind.case !== "event") continue;
      const { type, fileId, file } = message.kind.value;
      const card = cards.get(fileId);
      if (!card || !file) continue;
      if (type === FileEventType.DELETED) {
        card.root.remove();
        cards.delete(fileId);
      } else if (type === FileEventType.PROCESSED || type === FileEventType.CURRENT) {
        void show(fileId, card, file);
      } else if (type === FileEventType.PROCESSING_FAILED) {
        showError(new Error(`${file.filename}: ${file.processingError}`));
      }
    }
  } catch (error) {
    if (!signal.aborted) showError(error);
  }
}

/** Paints the placeholder now and swaps in the thumbnail once processing completed. */
async function show(fileId: string, card: Card, file: StoredFile): Promise<void> {
  card.placeholder(file.blurhash);
  if (file.processingStatus !== ProcessingStatus.COMPLETED) return;
  const variant = file.variants.some((v) => v.name === "thumb") ? "thumb" : "";
  const { urls } = await files.getDownloadURLs({ fileIds: [fileId], variant });
  if (urls[0]) card.thumbnail(urls[0].url);
}

function track(fileId: string, card: Card, file?: StoredFile): void {
  cards.set(fileId, card);
  card.root.dataset.fileId = fileId;
  if (!file) return;
  card.progress(1);
  void show(fileId, card, file).catch(showError);
  card.ready({
    open: () =>
      void files
        .getDownloadURLs({ fileIds: [fileId] })
        .then(({ urls }) => urls[0] && window.open(urls[0].url, "_blank"))
        .catch(showError),
    remove: () =>
      void files
        .deleteFile({ fileId })
        .then(() => {
          card.root.remove();
          cards.delete(fileId);
        })
        .catch(showError),
  });
}

async function upload(pictures: File[]): Promise<void> {
  if (pictures.length === 0) return;
  const pending = pictures.map((p) => addCard(gallery, p.name));
  try {
    const uploads = await requestUploads(pictures);
    await Promise.all(
      uploads.map(async (presigned, i) => {
        const card = pending[i]!;
        cards.set(presigned.fileId, card);
        try {
          await put(presigned, pictures[i]!, card.progress);
          track(presigned.fileId, card, await confirm(presigned.fileId));
        } catch (error) {
          showError(error);
          card.root.remove();
        }
      }),
    );
  } catch (error) {
    showError(error);
    for (const card of pending) card.root.remove();
  }
}

const picker = $<HTMLInputElement>("picker");
picker.onchange = () => {
  void upload([...(picker.files ?? [])]);
  picker.value = "";
};
const drop = $("drop");
drop.ondragover = (e) => {
  e.preventDefault();
  drop.classList.add("over");
};
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  void upload([...(e.dataTransfer?.files ?? [])].filter((f) => f.type.startsWith("image/")));
};
$<HTMLFormElement>("token-form").onsubmit = (e) => {
  e.preventDefault();
  void signIn($<HTMLInputElement>("token").value, "pasted token");
};

const demo = await fetchDemoToken().catch(() => undefined);
if (demo) void signIn(demo, "signed in as the demo user");
else $("who").textContent = "paste a token to sign in";
