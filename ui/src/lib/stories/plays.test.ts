import { describe, expect, it, vi } from 'vitest';
import { PlayCounter } from './plays';

describe('PlayCounter', () => {
  it('counts the first play, not a resume after pause', () => {
    const record = vi.fn();
    const plays = new PlayCounter(record);
    expect(plays.play()).toBe(true);
    // pause, seek, resume: the audio element fires `play` again
    expect(plays.play()).toBe(false);
    expect(plays.play()).toBe(false);
    expect(record).toHaveBeenCalledTimes(1);
  });

  it('counts again after the end', () => {
    const record = vi.fn();
    const plays = new PlayCounter(record);
    plays.play();
    plays.ended();
    expect(plays.play()).toBe(true);
    expect(record).toHaveBeenCalledTimes(2);
  });

  it('counts again for a newly loaded story', () => {
    const record = vi.fn();
    const plays = new PlayCounter(record);
    plays.play();
    plays.reset();
    plays.play();
    expect(record).toHaveBeenCalledTimes(2);
  });
});
