import { describe, expect, it } from 'vitest';
import type { RowSync } from '$lib/bindings/RowSync';
import { networkLabel, pendingSummary, syncBadge, syncReportMessage } from './labels';

const NOW = new Date('2025-03-01T12:00:00Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString();

const row = (overrides: Partial<RowSync>): RowSync => ({
  status: 'synced',
  op: null,
  error: null,
  attempts: 0,
  given_up: false,
  next_attempt_at: null,
  version: 3,
  last_synced_at: null,
  ...overrides,
});

describe('counts and labels', () => {
  it('says how many changes wait', () => {
    expect(pendingSummary(1)).toBe('1 change waiting to sync');
    expect(pendingSummary(3)).toBe('3 changes waiting to sync');
  });

  it('labels network states', () => {
    expect(networkLabel('online', false)).toBe('Online');
    expect(networkLabel('offline', false)).toBe('Offline');
    expect(networkLabel('offline', true)).toBe('Working offline');
    expect(networkLabel('server_unreachable', false)).toBe('Server unreachable');
  });
});

describe('syncBadge', () => {
  it('is quiet for synced rows', () => {
    expect(syncBadge(row({ last_synced_at: ago(120) }), false, NOW)).toEqual({
      tone: 'synced',
      label: 'Synced',
      detail: 'Synced 2 minutes ago.',
    });
  });

  it('says pending rows wait, or save while a sync runs', () => {
    const pending = row({ status: 'pending_create', op: 'create' });
    expect(syncBadge(pending, false, NOW).label).toBe('Waiting to sync');
    expect(syncBadge(pending, true, NOW).label).toBe('Saving…');
    expect(syncBadge(pending, false, NOW).tone).toBe('pending');
    expect(syncBadge(row({ status: 'pending_delete', op: 'delete' }), false, NOW).detail).toMatch(/Deletion/);
  });

  it('mentions a failed attempt that will be retried', () => {
    const badge = syncBadge(
      row({ status: 'pending_update', op: 'update', error: 'timeout', attempts: 2, next_attempt_at: ago(-120) }),
      false,
      NOW,
    );
    expect(badge.detail).toBe('Changes not on your other devices yet. Last try failed (timeout); trying again in 2 minutes.');
  });

  it('explains failures, and says when it gave up', () => {
    const failed = row({ status: 'failed', op: 'create', error: 'Name is taken', attempts: 1 });
    expect(syncBadge(failed, false, NOW)).toEqual({
      tone: 'failed',
      label: 'Couldn’t sync',
      detail: 'Adding this hero failed: Name is taken',
    });
    const givenUp = syncBadge({ ...failed, op: 'delete', given_up: true, attempts: 8 }, false, NOW);
    expect(givenUp.label).toBe('Gave up');
    expect(givenUp.detail).toBe('Deleting this hero failed: Name is taken Gave up after 8 tries. Retry or discard.');
  });

  it('flags conflicts', () => {
    expect(syncBadge(row({ status: 'conflict', op: 'update' }), false, NOW).tone).toBe('conflict');
  });
});

describe('syncReportMessage', () => {
  const report = { pushed: 3, applied: 3, conflicts: 0, rejected: 0, failed: 0, pulled: 2, started_at: '', finished_at: '' };

  it('stays silent when everything went through', () => {
    expect(syncReportMessage(report)).toBeNull();
  });

  it('sums up what did not', () => {
    expect(syncReportMessage({ ...report, conflicts: 1, rejected: 2, failed: 1 })).toBe(
      'Synced, but 1 conflict needs a look; 2 changes were refused by the server; 1 change will be retried.',
    );
  });
});
