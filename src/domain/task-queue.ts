// The outbox's persistence contract (see task.ts): both repositories and the
// test fake implement it, and the repository contract suite checks them alike.
//
// Tasks are written by the state changes in FileRepository, in their own
// transaction; the methods here claim, finish and inspect them. Claims are
// exclusive (several instances share one queue), a crashed claimer's task is
// claimable again once its lease runs out, and tasks sharing an order key run
// one at a time in creation order.
import type { NewTask, Task, TaskKind, TaskStats } from "./task.js";

export interface TaskQueue {
  /**
   * Claims up to `limit` tasks of `kinds` for `workerId` until `now + leaseMs`:
   * queued and due, or running under a lease that ran out; never one whose
   * order key has an earlier task that is not failed. Each claim counts an attempt.
   */
  claimTasks(input: { workerId: string; leaseMs: number; limit: number; now: Date; kinds: readonly TaskKind[] }): Promise<Task[]>;
  /**
   * Ends a task `workerId` still holds: deletes it and inserts `followUps`, in
   * one transaction. Returns false (and changes nothing) when the claim was lost.
   */
  completeTask(id: number, workerId: string, followUps?: readonly NewTask[]): Promise<boolean>;
  /** Ends an attempt: queued again, due at `retryAt`, or failed for good when null. False when the claim was lost. */
  failTask(id: number, workerId: string, error: string, retryAt: Date | null): Promise<boolean>;
  /** Inserts tasks on their own (tests, operators); state changes write theirs themselves. */
  enqueueTasks(tasks: readonly NewTask[]): Promise<void>;
  /** Tasks in `status`, oldest first. */
  listTasks(query: { status: Task["status"]; limit: number }): Promise<Task[]>;
  /** Failed tasks among `ids` queued again, due `now`, attempts reset. Returns how many. */
  requeueTasks(ids: readonly number[], now: Date): Promise<number>;
  taskStats(now: Date): Promise<TaskStats>;
}
