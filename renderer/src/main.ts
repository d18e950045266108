import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { Studio } from './lib/state/studio.svelte.js';
import { createTransport } from './lib/transport.js';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no element with id "app" to mount the interface in.');

let studio: Studio | null = null;
let startError: string | null = null;
try {
  studio = new Studio(createTransport());
} catch (error) {
  startError = error instanceof Error ? error.message : String(error);
}

mount(App, { target, props: { studio, startError } });
