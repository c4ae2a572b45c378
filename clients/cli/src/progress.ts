// One progress bar per file on stderr while bytes are sent (cli-progress draws
// them only on a terminal; piped output gets the summary table alone).
import { MultiBar, Presets, type SingleBar } from "cli-progress";
import { formatBytes } from "./report.js";

export class UploadBars {
  // cli-progress still prints the final bars on stop() when stderr is not a
  // terminal: on a pipe there is no MultiBar at all.
  private readonly multi = !process.stderr.isTTY ? undefined : new MultiBar(
    {
      // Short enough for 80 columns with a long path at the end (cli-progress cuts lines at the terminal's width).
      format: " {bar} {percentage}% {size}  {state}  {name}",
      barsize: 20,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
    },
    Presets.shades_classic,
  );
  private readonly bars = new Map<number, SingleBar>();
  private stopped = false;
  // Ctrl-C mid-upload: give the terminal its cursor and line wrapping back (the bars hide both), then exit as interrupted.
  private readonly interrupted = () => {
    this.stop();
    process.exit(130);
  };

  constructor() {
    if (this.multi !== undefined) process.once("SIGINT", this.interrupted);
  }

  /** Sets file `index`'s bar, creating it on first use. */
  update(index: number, name: string, loaded: number, total: number, state = ""): void {
    if (this.multi === undefined) return;
    let bar = this.bars.get(index);
    const payload = { name, size: formatBytes(total).padStart(9), state: state.padEnd(6) };
    if (bar === undefined) {
      bar = this.multi.create(Math.max(total, 1), 0, payload);
      this.bars.set(index, bar);
    }
    bar.update(Math.min(loaded, total), payload);
  }

  /** Draws the bars' final state once. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    process.off("SIGINT", this.interrupted);
    this.multi?.stop();
  }
}
