/** The profile and this month's usage: network-first reads (the saved copy when offline), and edits. */
import { reportError } from '$lib/app/report';
import { profile as api } from '$lib/backend';
import type { ErrorPayload } from '$lib/bindings/ErrorPayload';
import type { ProfileInput } from '$lib/bindings/ProfileInput';
import type { ProfileView } from '$lib/bindings/ProfileView';
import type { Read } from '$lib/bindings/Read';
import type { Theme } from '$lib/bindings/Theme';
import type { UsageView } from '$lib/bindings/UsageView';
import { applyTheme, savedTheme } from '$lib/settings/theme';

export class ProfileStore {
  profile = $state<Read<ProfileView> | null>(null);
  usage = $state<Read<UsageView> | null>(null);
  loading = $state(false);
  /** Why the profile could not be read at all (no saved copy either). */
  error = $state('');

  /** Applies the theme this device last used, before the profile answers. */
  constructor() {
    if (typeof document !== 'undefined') {
      const theme = savedTheme();
      if (theme) applyTheme(theme);
    }
  }

  /** Loads the profile (and applies its theme) and the usage. */
  async load(): Promise<void> {
    this.loading = true;
    await Promise.all([this.refresh(), this.refreshUsage()]);
    this.loading = false;
  }

  async refresh(): Promise<void> {
    try {
      this.profile = await api.get();
      this.error = '';
      applyTheme(this.profile.value.theme);
    } catch (error) {
      const e = error as ErrorPayload;
      this.error = e.message || 'The profile could not be loaded.';
      if (e.code !== 'offline' && e.code !== 'not_cached') reportError(e);
    }
  }

  async refreshUsage(): Promise<void> {
    try {
      this.usage = await api.usage();
    } catch {
      // The usage card says it is unavailable; nothing else depends on it.
      this.usage = null;
    }
  }

  /** Saves the profile's editable fields; rejects with the core's error (for the form). */
  async update(input: ProfileInput): Promise<ProfileView> {
    const saved = await api.update(input);
    this.profile = { value: saved, source: 'network', saved_copy: null, refreshing: false };
    applyTheme(saved.theme);
    return saved;
  }

  /** Changes the theme at once (it is part of the synced profile), back if saving fails. */
  async setTheme(theme: Theme): Promise<void> {
    const current = this.profile?.value;
    if (!current) {
      applyTheme(theme);
      return;
    }
    const before = current.theme;
    applyTheme(theme);
    try {
      await this.update({ name: current.name, preferred_language: current.preferred_language, theme });
    } catch (error) {
      applyTheme(before);
      reportError(error as ErrorPayload);
    }
  }

  clear(): void {
    this.profile = null;
    this.usage = null;
    this.error = '';
  }
}

export const profileStore = new ProfileStore();
