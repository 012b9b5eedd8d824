// A tiny store with the redux contract: getState, dispatch, subscribe (returns unsubscribe).
// The reducer is pure; listeners are snapshotted before notifying; a reducer may not dispatch.

export function createStore(reducer, initial) {
  let state = initial;
  let listeners = [];
  let reducing = false;

  function getState() {
    return state;
  }

  function dispatch(action) {
    if (!action || typeof action.type !== "string") throw new TypeError("vq store: an action needs a string type");
    if (reducing) throw new Error("vq store: reducers may not dispatch");
    const before = state;
    reducing = true;
    try {
      state = reducer(state, action);
    } finally {
      reducing = false;
    }
    if (state !== before) for (const listener of listeners.slice()) listener(state, before, action);
    return action;
  }

  function subscribe(listener) {
    listeners = [...listeners, listener];
    return () => {
      listeners = listeners.filter((l) => l !== listener);
    };
  }

  return { getState, dispatch, subscribe };
}
