import { beforeEach, describe, expect, it, vi } from 'vitest';

const media = { streamBase: vi.fn<() => Promise<string | null>>() };
vi.mock('$lib/backend', () => ({ media }));

const { mediaUrl } = await import('./media');

describe('mediaUrl', () => {
  it('names the row, on the platform’s form of the scheme', () => {
    const id = '01a22870-3898-760b-b4da-12872fcb50da';
    expect(mediaUrl('avatar', id, 'Mozilla/5.0 (X11; Linux x86_64)')).toBe(`media://localhost/avatar/${id}`);
    expect(mediaUrl('audio', id, 'Mozilla/5.0 (Windows NT 10.0)')).toBe(`http://media.localhost/audio/${id}`);
  });

  it('cannot be steered elsewhere by the id', () => {
    expect(mediaUrl('avatar', '../../etc/passwd', 'Linux')).toBe('media://localhost/avatar/..%2F..%2Fetc%2Fpasswd');
  });
});

describe('audioUrl', () => {
  beforeEach(() => {
    vi.resetModules();
    media.streamBase.mockReset();
  });

  it('plays from the loopback address when the app gives one, asking once', async () => {
    media.streamBase.mockResolvedValue('http://127.0.0.1:4100/secret');
    const { audioUrl } = await import('./media');
    expect(await audioUrl('s/1')).toBe('http://127.0.0.1:4100/secret/audio/s%2F1');
    expect(await audioUrl('s2')).toBe('http://127.0.0.1:4100/secret/audio/s2');
    expect(media.streamBase).toHaveBeenCalledTimes(1);
  });

  it('keeps the media:// address when there is none, or the app cannot say', async () => {
    vi.stubGlobal('navigator', { userAgent: 'Mozilla/5.0 (X11; Linux x86_64)' });
    media.streamBase.mockResolvedValue(null);
    let { audioUrl } = await import('./media');
    expect(await audioUrl('s1')).toBe('media://localhost/audio/s1');
    vi.resetModules();
    media.streamBase.mockRejectedValue(new Error('no such command'));
    ({ audioUrl } = await import('./media'));
    expect(await audioUrl('s1')).toBe('media://localhost/audio/s1');
    vi.unstubAllGlobals();
  });
});
