// The cards: a blurhash placeholder painted at once, a progress bar while the
// bytes go up, the thumbnail once processing completes, open and delete.
import { decode } from "blurhash";

export interface Card {
  root: HTMLElement;
  progress(fraction: number): void;
  placeholder(blurhash: string): void;
  thumbnail(url: string): void;
  ready(actions: { open(): void; remove(): void }): void;
}

export function addCard(gallery: HTMLElement, name: string): Card {
  const root = document.createElement("article");
  root.className = "card";
  root.innerHTML = `<div class="pic"></div><div class="meta"><span class="name"></span><progress max="1" value="0"></progress><div class="actions"></div></div>`;
  root.querySelector(".name")!.textContent = name;
  const pic = root.querySelector<HTMLElement>(".pic")!;
  const bar = root.querySelector("progress")!;
  gallery.prepend(root);
  return {
    root,
    progress: (fraction) => {
      bar.value = fraction;
      root.dataset.progress = String(Math.round(fraction * 100));
    },
    placeholder(blurhash) {
      if (!blurhash || pic.querySelector("canvas")) return;
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 32;
      const ctx = canvas.getContext("2d")!;
      const image = ctx.createImageData(32, 32);
      image.data.set(decode(blurhash, 32, 32));
      ctx.putImageData(image, 0, 0);
      pic.prepend(canvas);
    },
    thumbnail(url) {
      if (pic.querySelector("img")) return;
      const img = document.createElement("img");
      img.alt = name;
      img.className = "thumb";
      img.src = url;
      pic.append(img);
    },
    ready({ open, remove }) {
      bar.remove();
      const actions = root.querySelector(".actions")!;
      for (const [label, run] of [["Open", open], ["Delete", remove]] as const) {
        const button = document.createElement("button");
        button.textContent = label;
        button.onclick = run;
        actions.append(button);
      }
    },
  };
}
