import test from "node:test";
import assert from "node:assert/strict";
import { createStore } from "../../web/js/store.js";

const counter = (s, a) => (a.type === "inc" ? { n: s.n + 1 } : s);

test("dispatch runs the reducer and notifies subscribers with (state, previous, action)", () => {
  const store = createStore(counter, { n: 0 });
  const seen = [];
  store.subscribe((s, prev, a) => seen.push([s.n, prev.n, a.type]));
  store.dispatch({ type: "inc" });
  assert.equal(store.getState().n, 1);
  assert.deepEqual(seen, [[1, 0, "inc"]]);
});

test("an unchanged state notifies nobody", () => {
  const store = createStore(counter, { n: 0 });
  let calls = 0;
  store.subscribe(() => calls++);
  store.dispatch({ type: "other" });
  assert.equal(calls, 0);
});

test("unsubscribe works, and listeners are snapshotted before notifying", () => {
  const store = createStore(counter, { n: 0 });
  const calls = [];
  let unsubB = null;
  store.subscribe(() => {
    calls.push("a");
    unsubB();
  });
  unsubB = store.subscribe(() => calls.push("b"));
  store.dispatch({ type: "inc" });
  assert.deepEqual(calls, ["a", "b"], "b still hears the event in progress");
  store.dispatch({ type: "inc" });
  assert.deepEqual(calls, ["a", "b", "a"]);
});

test("actions need a string type, and reducers may not dispatch", () => {
  const store = createStore(counter, { n: 0 });
  assert.throws(() => store.dispatch({}), TypeError);
  assert.throws(() => store.dispatch(null), TypeError);
  const nested = createStore((s, a) => {
    if (a.type === "inner") nested.dispatch({ type: "x" });
    return s;
  }, {});
  assert.throws(() => nested.dispatch({ type: "inner" }), /may not dispatch/);
  nested.dispatch({ type: "ok" }); // the guard resets after a throw
});
