// Svelte compiler settings for the renderer: runes mode everywhere, so
// components use $state and $props and never the Svelte 4 syntax.
export default {
  compilerOptions: { runes: true },
};
