/**
 * A CLI's main: its exit code on success; on failure one line `name: message` on stderr and exit 1 (a usage
 * error or any other Error: the message, no stack; RF_DEBUG=1 prints the stack too).
 */
export function runMain(name: string, main: () => Promise<number | void>, exit: (code: number) => void = (c) => process.exit(c)): void {
  main().then(
    (code) => exit(code ?? 0),
    (e: unknown) => {
      console.error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      if (process.env.RF_DEBUG && e instanceof Error && e.stack) console.error(e.stack);
      exit(1);
    },
  );
}
