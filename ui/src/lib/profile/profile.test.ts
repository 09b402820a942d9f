import { describe, expect, it } from 'vitest';
import type { UsageStats } from '$lib/bindings/UsageStats';
import { usageBars, validateProfile } from './profile';

const stats = (overrides: Partial<UsageStats> = {}): UsageStats => ({
  period_start: '2025-03-01T00:00:00Z',
  period_end: '2025-04-01T00:00:00Z',
  subscription_tier: 'free',
  stories_this_month: 12,
  audio_minutes_this_month: 9,
  illustrations_this_month: 7,
  limits: { stories_per_month: 30, audio_minutes_per_month: 10, illustrations_per_month: null },
  tiers: [],
  ...overrides,
});

describe('usageBars', () => {
  it('counts each use against the tier limit, warning near it', () => {
    const [stories, audio, pictures] = usageBars(stats());
    expect(stories).toMatchObject({ label: 'Stories this month', text: '12 of 30', fraction: 0.4, tone: 'ok' });
    expect(audio).toMatchObject({ text: '9 of 10', tone: 'warn' });
    expect(pictures).toMatchObject({ text: '7 (no limit)', fraction: null, tone: 'ok' });
  });

  it('is full at the limit and never overflows the bar', () => {
    const [stories] = usageBars(stats({ stories_this_month: 31 }));
    expect(stories).toMatchObject({ tone: 'full', fraction: 1 });
  });
});

describe('validateProfile', () => {
  it('checks the name with the generated rules and trims it', () => {
    expect(validateProfile({ name: '  Sam ', preferred_language: 'en', theme: 'dark' })).toEqual({
      ok: true,
      input: { name: 'Sam', preferred_language: 'en', theme: 'dark' },
    });
    expect(validateProfile({ name: ' ', preferred_language: 'en', theme: 'system' })).toEqual({
      ok: false,
      errors: { name: 'Enter a name of 1 to 100 characters' },
    });
  });
});
