// Client-side navigation: links keep their href (keyboard, new tab) and use pushState on click.
import type { MouseEvent } from 'react';

export type Navigate = (path: string) => void;

export function link(navigate: Navigate, to: string) {
  return (e: MouseEvent) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(to);
  };
}
