import { createSubscriber } from 'svelte/reactivity';

const TICK_MS = 30_000;

/** The current time for "5 minutes ago" texts; reading it in an effect or template re-renders every 30 s. */
class Clock {
  #subscribe = createSubscriber((update) => {
    const timer = setInterval(update, TICK_MS);
    return () => clearInterval(timer);
  });

  get now(): Date {
    this.#subscribe();
    return new Date();
  }
}

export const clock = new Clock();
