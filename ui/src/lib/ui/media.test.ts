import { describe, expect, it } from 'vitest';
import { mediaUrl } from './media';

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
