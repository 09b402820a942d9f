/** The colour theme: applied to `<html data-theme>` (absent for "system", which follows the OS). */
import type { Theme } from '$lib/bindings/Theme';

const KEY = 'infinite-stories.theme';

export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  if (theme === 'light' || theme === 'dark') root.dataset.theme = theme;
  else delete root.dataset.theme;
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // Storage may be unavailable (private mode); the profile applies the theme anyway.
  }
}

/** The theme last applied on this device, so the window opens in it before the profile loads. */
export function savedTheme(): Theme | null {
  try {
    const value = localStorage.getItem(KEY);
    return value === 'light' || value === 'dark' || value === 'system' ? value : null;
  } catch {
    return null;
  }
}
