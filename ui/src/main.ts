import { mount } from 'svelte';
import { inTauri } from '$lib/backend';
import App from './App.svelte';
import './app.css';

async function start() {
  // When the bundle ran, against the web view's start (the launch benchmark reads it).
  performance.mark('app-start');
  // Before anything renders: the fonts to ask for differ (app.css, `data-platform`).
  if (/\bLinux\b/.test(navigator.userAgent)) document.documentElement.dataset.platform = 'linux';
  // `npm run dev` in a plain browser: stand in for the Rust core (never part of a build).
  if (import.meta.env.DEV && !inTauri()) {
    const { installFakeCore } = await import('./dev/fake-core');
    installFakeCore(new URLSearchParams(location.search));
  }
  mount(App, { target: document.getElementById('app')! });
}

void start();
