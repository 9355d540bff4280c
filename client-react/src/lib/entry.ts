// entry.ts - the library build's entry: the public API plus the component styles, which the
// build writes to dist-lib/framewire-react.css (apps import '@framewire/react/style.css').
import './style.css';
export * from './index';
