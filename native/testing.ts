// Hooks for the module's own tests, kept out of the lesson-facing API (index.ts): nothing a
// student's program should call.
import { binding } from "./binding.ts";

export const {
  /**
   * interruptAfter(delayMs, count, intervalMs): a helper thread sends this thread SIGUSR2 count
   * times, with a do-nothing handler installed without SA_RESTART, so that blocking calls really
   * see EINTR; for tests that check they retry it. It replaces the process's SIGUSR2 handler for
   * good, which is why no lesson may call it.
   */
  interruptAfter,
} = binding;
