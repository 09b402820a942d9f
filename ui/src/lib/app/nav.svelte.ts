/** Which screen the main window shows, and what it was opened with. */

export type Screen = 'heroes' | 'stories' | 'events' | 'profile' | 'settings';

export const SCREENS: readonly { id: Screen; label: string; icon: 'users' | 'book' | 'calendar' | 'user' | 'settings' }[] = [
  { id: 'heroes', label: 'Heroes', icon: 'users' },
  { id: 'stories', label: 'Stories', icon: 'book' },
  { id: 'events', label: 'Events', icon: 'calendar' },
  { id: 'profile', label: 'Profile', icon: 'user' },
  { id: 'settings', label: 'Settings', icon: 'settings' },
];

class Nav {
  screen = $state<Screen>('heroes');
  /** The story open in the reader, over the stories list. */
  reading = $state<string | null>(null);
  /** The Sync panel is open (from the header's counts, or Ctrl+Shift+S). */
  syncPanel = $state(false);
  /** The stories list should narrow to this hero when it opens. */
  storiesOfHero = $state<{ id: string; name: string } | null>(null);

  go(screen: Screen): void {
    this.screen = screen;
    this.reading = null;
  }

  /** The hero's stories, one click from the hero. */
  heroStories(hero: { id: string; name: string }): void {
    this.storiesOfHero = hero;
    this.go('stories');
  }

  read(storyId: string): void {
    this.screen = 'stories';
    this.reading = storyId;
  }

  reset(): void {
    this.screen = 'heroes';
    this.reading = null;
    this.syncPanel = false;
    this.storiesOfHero = null;
  }
}

export const nav = new Nav();
