// `.env` for the commands a developer runs (npm start, npm run migrate, npm run
// token): its settings, unless the environment already has them. Node's own
// --env-file-if-exists prints ".env not found. Continuing without it." on every
// start without one: noise beside the zero-setup banner, where no .env is the
// normal case.
export function loadDotEnv(path = ".env"): void {
  try {
    process.loadEnvFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}
