// The in-memory fake the domain and cache tests use passes the same contract as
// the MySQL and SQLite repositories, so tests on it say something true.
import { describeFileRepository } from "./file-repository-contract.js";

// A zone far from UTC, with DST, as the database suites set it (the contract checks it).
process.env.TZ = "America/St_Johns";
import { createFakeDatabase, createFakeRepository, FAKE_DUPLICATE_KEY } from "../support/fake-repository.js";

describeFileRepository("in-memory fake", {
  async open() {
    const db = createFakeDatabase();
    const repo = createFakeRepository(db);
    return { repo, another: async () => createFakeRepository(db), close: () => repo.close() };
  },
  async openUnreachable() {
    const repo = createFakeRepository();
    repo.unreachable = true;
    return repo;
  },
  duplicateKeyCode: FAKE_DUPLICATE_KEY,
});
