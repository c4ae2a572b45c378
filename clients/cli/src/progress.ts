// One progress bar per file on stderr while bytes are sent (cli-progress draws
// them only on a terminal; piped output gets the summary table alone).
import { MultiBar, Presets, type SingleBar } from "cli-progress";
import { formatBytes } from "./report.js";

export class UploadBars {
  private readonly multi = new MultiBar(
    {
      format: " {bar} {percentage}% | {size} | {name} {state}",
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      formatValue: (value, _options, type) => (type === "percentage" ? String(value).padStart(3) : String(value)),
    },
    Presets.shades_classic,
  );
  private readonly bars = new Map<number, SingleBar>();
  private readonly width: number;

  constructor(names: readonly string[]) {
    this.width = Math.max(...names.map((n) => n.length));
  }

  /** Sets file `index`'s bar, creating it on first use. */
  update(index: number, name: string, loaded: number, total: number, state = ""): void {
    let bar = this.bars.get(index);
    const payload = { name: name.padEnd(this.width), size: formatBytes(total).padStart(9), state };
    if (bar === undefined) {
      bar = this.multi.create(Math.max(total, 1), 0, payload);
      this.bars.set(index, bar);
    }
    bar.update(Math.min(loaded, total), payload);
  }

  stop(): void {
    this.multi.stop();
  }
}
