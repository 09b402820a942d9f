/** @type {import('@sveltejs/vite-plugin-svelte').SvelteConfig} */
export default {
  // Runes everywhere: no component may fall back to Svelte 4 syntax.
  compilerOptions: { runes: true },
};
