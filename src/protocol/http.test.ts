import { describe, expect, it } from 'vitest';
import { API_PATHS, FRAME_EVENTS, matchGenerationPath } from './http.js';

describe('API paths', () => {
  it('builds each per-generation path so that it matches back to its route and id', () => {
    const id = 'gen_AbC-09_z';
    expect(API_PATHS.resume(id)).toBe('/api/v1/chat/stream/gen_AbC-09_z');
    expect(API_PATHS.cancel(id)).toBe('/api/v1/chat/stream/gen_AbC-09_z/cancel');
    expect(API_PATHS.generation(id)).toBe('/api/v1/generations/gen_AbC-09_z');
    expect(matchGenerationPath(API_PATHS.resume(id))).toEqual({ route: 'resume', generationId: id });
    expect(matchGenerationPath(API_PATHS.cancel(id))).toEqual({ route: 'cancel', generationId: id });
    expect(matchGenerationPath(API_PATHS.generation(id))).toEqual({ route: 'generation', generationId: id });
  });

  it('encodes an id so it cannot reach another route', () => {
    expect(API_PATHS.resume('a/cancel')).toBe('/api/v1/chat/stream/a%2Fcancel');
    expect(API_PATHS.generation('../x?y')).toBe('/api/v1/generations/..%2Fx%3Fy');
    expect(matchGenerationPath(API_PATHS.resume('a/cancel'))).toBeUndefined();
  });

  it('matches no other path: health, the collection routes, bad or overlong ids, extra segments', () => {
    for (const path of [
      API_PATHS.health,
      API_PATHS.stream,
      API_PATHS.generations,
      `${API_PATHS.stream}/`,
      `${API_PATHS.stream}/gen.1`,
      `${API_PATHS.stream}/${'a'.repeat(65)}`,
      `${API_PATHS.stream}/gen_1/cancel/more`,
      `${API_PATHS.generations}/gen_1/cancel`,
      `/prefix${API_PATHS.stream}/gen_1`,
    ]) {
      expect(matchGenerationPath(path), path).toBeUndefined();
    }
    expect(matchGenerationPath(`${API_PATHS.stream}/${'a'.repeat(64)}`)?.route).toBe('resume');
  });
});

describe('FRAME_EVENTS', () => {
  it('lists each event once, start first and done last', () => {
    expect(new Set(FRAME_EVENTS).size).toBe(FRAME_EVENTS.length);
    expect(FRAME_EVENTS[0]).toBe('start');
    expect(FRAME_EVENTS.at(-1)).toBe('done');
  });
});
