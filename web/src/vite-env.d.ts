/// <reference types="vite/client" />
declare const __ELYSIUM_VERSION__: string;
