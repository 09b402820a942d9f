#!/usr/bin/env python3
"""Finds import cycles between the modules of a Rust crate.

    python3 scripts/module-cycles.py crates/server            # or crates/server/src
    python3 scripts/module-cycles.py crates/core --edges      # also print every dependency
    python3 scripts/module-cycles.py crates/core --dot > modules.dot

Each file below `src/` is a module (`src/a.rs` and `src/a/mod.rs` are `a`, `src/a/b.rs`
is `a::b`; `src/bin/` and a `main.rs` next to `lib.rs` are other crates and are left
out). A module depends on another when its code names it: `use crate::x::…`,
`crate::x::…` in code, `super::…`/`self::…` paths, and in a `use`, a path that starts
with one of the module's children. A name a module re-exports (`pub use y::Item;`) is
traced to the module it comes from; glob re-exports (`pub use y::*`) are not traced.
Comments, doc comments (so intra-doc links) and string literals do not count.
`#[cfg(test)]` modules count unless `--skip-tests` is given. Trait impls create no
dependency (Rust needs no import to use them), so they are not seen.

Not counted: a module's use of itself or of its own descendants (`mod.rs` declaring and
using its children), and uses of the crate root (`lib.rs`/`main.rs` declares every
module, so counting it would make everything one cycle; `--include-root` counts it).
A module's use of its parent or any other ancestor does count.

Prints each strongly connected component of two or more modules (a cycle) with the
dependencies inside it and the file and line of each, and exits 1; with none, prints
"no cycles" and exits 0.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

ROOT_FILES = ("lib.rs", "main.rs")


def blank(s):
    return re.sub(r"[^\n]", " ", s)


def strip(text):
    """The text with comments and string/char literals blanked (line breaks kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        prev = text[i - 1] if i else " "
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and nxt == "*":
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif c in "rb" and not (prev.isalnum() or prev == "_") and re.match(r'(br|r)#*"', text[i:]):
            m = re.match(r'(?:br|r)(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(blank(text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(blank(text[i:j]))
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}', '"'), else a lifetime.
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'\n])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_of(rel):
    """`a/b.rs` → ("a", "b"); `a/mod.rs` → ("a",); `lib.rs` → ()."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    if len(parts) == 1 and parts[0] + ".rs" in ROOT_FILES:
        return ()
    return tuple(parts)


def split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def expand_use(tree):
    """The paths of a use tree with the name each brings in:
    `a::{b as c, d::{self, e}, f::*}` → [(a,b), "c"], [(a,d), "d"], [(a,d,e), "e"], [(a,f), "*"]."""

    def walk(s, prefix):
        s = s.strip()
        if "{" in s:
            head, _, rest = s.partition("{")
            inner = rest[: rest.rfind("}")]
            head_parts = [p.strip() for p in head.split("::") if p.strip()]
            result = []
            for part in split_top(inner):
                result.extend(walk(part, prefix + head_parts))
            return result
        alias = None
        m = re.match(r"(.*?)\s+as\s+(\w+)$", s)
        if m:
            s, alias = m.group(1), m.group(2)
        segs = [p.strip() for p in s.split("::") if p.strip()]
        if segs and segs[-1] == "self":
            segs = segs[:-1]
        if segs and segs[-1] == "*":
            return [(prefix + segs[:-1], "*")]
        full = prefix + segs
        return [(full, alias or (full[-1] if full else ""))]

    return walk(tree, [])


def matching_brace(code, open_pos):
    depth = 0
    for i in range(open_pos, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(code)


def blank_test_modules(code):
    out = list(code)
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", code):
        for i in range(m.start(), matching_brace(code, m.end() - 1)):
            if out[i] != "\n":
                out[i] = " "
    return "".join(out)


def line_index(code):
    starts = [0] + [i + 1 for i, c in enumerate(code) if c == "\n"]

    def line_of(pos):
        lo, hi = 0, len(starts)
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            if starts[mid] <= pos:
                lo = mid
            else:
                hi = mid
        return lo + 1

    return line_of


USE = re.compile(r"(?<![\w$])(pub(?:\s*\([^)]*\))?\s+)?use\s+([^;]+);")
PATH = re.compile(r"(?<![\w$])(?:crate|super|self)(?:\s*::\s*\w+)+")


class Crate:
    def __init__(self, src, skip_tests=False):
        self.src = src
        self.files = {}  # module -> file (relative to src)
        has_lib = os.path.exists(os.path.join(src, "lib.rs"))
        for dirpath, _, names in os.walk(src):
            for name in sorted(names):
                rel = os.path.relpath(os.path.join(dirpath, name), src)
                if not name.endswith(".rs") or rel.startswith("bin" + os.sep):
                    continue
                if rel == "main.rs" and has_lib:
                    continue  # its own crate: it reaches the library by name
                self.files.setdefault(module_of(rel), rel)
        self.modules = set(self.files)
        self.code = {}
        for mod, rel in self.files.items():
            with open(os.path.join(src, rel), encoding="utf-8") as f:
                code = strip(f.read())
            self.code[mod] = blank_test_modules(code) if skip_tests else code
        # Inline `mod name { … }` blocks, for `super::`/`self::` inside them.
        self.inline = {
            mod: [
                (m.start(), matching_brace(code, m.end() - 1), m.group(1))
                for m in re.finditer(r"\bmod\s+(\w+)\s*\{", code)
            ]
            for mod, code in self.code.items()
        }
        # module -> {name it re-exports: crate-absolute path of the original}
        self.reexports = defaultdict(dict)
        for mod, code in self.code.items():
            for m in USE.finditer(code):
                if not m.group(1):
                    continue
                for segs, name in expand_use(m.group(2)):
                    target = self.absolute(mod, segs, m.start(), in_use=True)
                    if target and name != "*":
                        self.reexports[mod][name] = target

    def scope_at(self, mod, pos):
        path = list(mod)
        for start, end, name in self.inline[mod]:
            if start <= pos < end:
                path.append(name)
        return path

    def absolute(self, mod, segs, pos, in_use):
        """The crate-absolute path `segs` names in `mod` at `pos`, if it is in the crate."""
        if not segs:
            return None
        if segs[0] == "crate":
            return segs[1:]
        scope = self.scope_at(mod, pos)
        if segs[0] in ("self", "super"):
            i = 0
            while i < len(segs) and segs[i] in ("self", "super"):
                if segs[i] == "super":
                    scope = scope[:-1]
                i += 1
            return scope + segs[i:]
        if in_use and tuple(scope + segs[:1]) in self.modules:
            return scope + segs  # a child module, named relative to this one
        return None

    def resolve(self, segs, seen=()):
        """The module a crate-absolute path names: its longest module prefix, or, when
        the next name is re-exported there, the module that name comes from."""
        for k in range(len(segs), -1, -1):
            mod = tuple(segs[:k])
            if mod in self.modules:
                rest = segs[k:]
                if rest and rest[0] in self.reexports.get(mod, {}) and (mod, rest[0]) not in seen:
                    origin = self.reexports[mod][rest[0]]
                    return self.resolve(origin + rest[1:], seen + ((mod, rest[0]),))
                return mod
        return None

    def references(self, mod):
        """(module, line) for every path in `mod`'s file that names another module."""
        code = self.code[mod]
        line_of = line_index(code)
        found = []
        use_spans = []
        for m in USE.finditer(code):
            use_spans.append((m.start(), m.end()))
            for segs, _ in expand_use(m.group(2)):
                target = self.absolute(mod, segs, m.start(), in_use=True)
                if target is not None:
                    found.append((target, line_of(m.start())))
        for m in PATH.finditer(code):
            if any(s <= m.start() < e for s, e in use_spans):
                continue
            segs = [s for s in re.split(r"\s*::\s*", m.group(0)) if s]
            target = self.absolute(mod, segs, m.start(), in_use=False)
            if target is not None:
                found.append((target, line_of(m.start())))
        out = []
        for target, line in found:
            tmod = self.resolve(target)
            if tmod is None or tmod[: len(mod)] == mod:
                continue  # unknown, itself or a descendant
            out.append((tmod, line))
        return out

    def graph(self, include_root=False):
        edges = defaultdict(dict)  # from -> to -> [lines]
        for mod in sorted(self.modules):
            if mod == () and not include_root:
                continue
            for target, line in self.references(mod):
                if target == () and not include_root:
                    continue
                edges[mod].setdefault(target, []).append(line)
        return edges


def tarjan(nodes, edges):
    index, low, on, stack, comps = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return comps


def name(mod):
    return "::".join(mod) if mod else "crate"


def lines(ls):
    return ",".join(str(x) for x in sorted(set(ls)))


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("crate", help="a crate directory (with src/) or its src directory")
    ap.add_argument("--include-root", action="store_true", help="count lib.rs as a module")
    ap.add_argument("--skip-tests", action="store_true", help="ignore #[cfg(test)] modules")
    ap.add_argument("--edges", action="store_true", help="print every dependency")
    ap.add_argument("--dot", action="store_true", help="print the graph in Graphviz dot")
    args = ap.parse_args()
    src = args.crate
    if os.path.isdir(os.path.join(src, "src")):
        src = os.path.join(src, "src")
    if not os.path.isdir(src):
        sys.exit(f"no such directory: {src}")
    crate = Crate(src, skip_tests=args.skip_tests)
    edges = crate.graph(include_root=args.include_root)
    nodes = {m for m in crate.modules if args.include_root or m != ()}
    if args.dot:
        print("digraph modules {")
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f'  "{name(a)}" -> "{name(b)}";')
        print("}")
        return 0
    if args.edges:
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f"{name(a)} -> {name(b)}  ({crate.files[a]}:{lines(edges[a][b])})")
    cycles = [c for c in tarjan(nodes, edges) if len(c) > 1]
    n_edges = sum(len(v) for v in edges.values())
    if not cycles:
        print(f"no cycles: {len(nodes)} modules, {n_edges} dependencies ({src})")
        return 0
    print(f"{len(cycles)} cycle(s) among {len(nodes)} modules ({src}):")
    for comp in cycles:
        members = set(comp)
        print("  " + ", ".join(name(m) for m in comp))
        for a in comp:
            for b in sorted(edges.get(a, {})):
                if b in members:
                    print(f"    {name(a)} -> {name(b)}  ({crate.files[a]}:{lines(edges[a][b])})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
