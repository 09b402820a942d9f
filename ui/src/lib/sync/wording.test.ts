import { describe, expect, it } from 'vitest';
import type { ActivityEntry } from '$lib/bindings/ActivityEntry';
import type { SyncOverview } from '$lib/bindings/SyncOverview';
import { activityLine, errorCodeText, failureReason, networkReason, progressText, triggerText } from './wording';

const overview = (overrides: Partial<SyncOverview> = {}): SyncOverview => ({
  account: { user_id: 'u', email: 'e@x.io', name: 'Sam', server_url: 'http://s' },
  network: 'online',
  work_offline: false,
  syncing: false,
  paused_reason: null,
  last_sync_at: null,
  last_error: null,
  pending: 0,
  failed: 0,
  conflicts: 0,
  ...overrides,
});

const entry = (overrides: Partial<ActivityEntry> = {}): ActivityEntry => ({
  id: 1,
  started_at: '2025-03-01T12:00:00Z',
  duration_ms: 100,
  trigger: 'manual',
  pushed: 0,
  applied: 0,
  conflicts: 0,
  rejected: 0,
  failed: 0,
  pulled: 0,
  outcome: 'ok',
  error_code: null,
  message: null,
  ...overrides,
});

describe('networkReason', () => {
  it('explains each state', () => {
    expect(networkReason(overview()).label).toBe('Online');
    expect(networkReason(overview({ network: 'offline' }))).toMatchObject({ label: 'Offline', tone: 'off' });
    expect(networkReason(overview({ network: 'server_unreachable' })).why).toMatch(/server isn’t answering/);
  });

  it('puts work offline, signed out and an expired session before the network', () => {
    expect(networkReason(overview({ network: 'offline', work_offline: true })).label).toBe('Working offline');
    expect(networkReason(overview({ account: null })).label).toBe('Signed out');
    expect(networkReason(overview(), true).label).toBe('Session expired');
    expect(networkReason(overview({ paused_reason: 'session expired' })).label).toBe('Session expired');
    expect(networkReason(overview({ paused_reason: 'too many failures' })).label).toBe('Sync paused');
  });
});

describe('activityLine', () => {
  it('sums up a run', () => {
    expect(activityLine(entry({ pushed: 3, applied: 3, pulled: 12 }))).toEqual({ tone: 'ok', text: 'Synced 3 changes, received 12' });
    expect(activityLine(entry({ pulled: 1 })).text).toBe('Received 1');
    expect(activityLine(entry()).text).toBe('Everything was up to date');
    expect(activityLine(entry({ applied: 1, conflicts: 2 }))).toEqual({ tone: 'warn', text: 'Synced 1 change, 2 conflicts' });
  });

  it('words errors by their code, never with the server’s message', () => {
    const line = activityLine(entry({ outcome: 'error', error_code: 'server', message: 'the server answered 503: boom' }));
    expect(line).toEqual({ tone: 'error', text: 'The server had a problem; it will be tried again' });
    expect(line.text).not.toMatch(/503|answered/);
    expect(activityLine(entry({ outcome: 'offline' })).text).toBe('Couldn’t reach the server');
    expect(errorCodeText('something_new')).toBe('Sync didn’t finish');
  });

  it('names what started a sync', () => {
    expect(triggerText('periodic')).toBe('on schedule');
    expect(triggerText('network_restored')).toBe('when the connection came back');
    expect(triggerText('???')).toBe('automatically');
  });
});

describe('failureReason', () => {
  it('maps transport wording to sentences', () => {
    expect(failureReason('the server answered 503: upstream down')).toBe('The server had a problem.');
    expect(failureReason('the server answered 413: too big')).toBe('This change is too large to send.');
    expect(failureReason('Server error (503)')).toBe('The server had a problem.');
    expect(failureReason('the server could not be reached: dns')).toBe('The server couldn’t be reached.');
    expect(failureReason('the server did not answer in time')).toBe('The server took too long to answer.');
  });

  it('keeps the server’s own reason for a refused change', () => {
    expect(failureReason('The server refused this change: name: Name is taken')).toBe(
      'The server refused this change: name: Name is taken',
    );
    expect(failureReason(null)).toBe('The last try failed.');
  });
});

describe('progressText', () => {
  it('says how much came and about how much is left', () => {
    expect(progressText({ received: 1240, remaining: 3760, first_sync: true, done: false })).toEqual({
      text: `${(1240).toLocaleString()} received, about ${(3760).toLocaleString()} left`,
      fraction: 0.248,
    });
    expect(progressText({ received: 5, remaining: null, first_sync: false, done: false })).toEqual({
      text: '5 received',
      fraction: null,
    });
  });
});
