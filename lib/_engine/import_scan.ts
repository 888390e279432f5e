// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The scan of a module's source text for the specifiers Deno preloads
// (scanSpecifiers), used by module_graph.ts.
//
// A linear scan of the text, that does not parse JavaScript: it finds every
// `import`, `from` and `require` followed (past white space and comments) by
// a string literal, or by `(` and a string literal (or a template literal
// without substitutions), wherever they are, comments and strings included.
// So it finds more than Deno loads, never less, for the forms Deno's module
// graph analyses (static imports and exports, `import()` of a literal; a
// template with a substitution or any other expression is checked against
// the worker's permissions when it runs). Comment ends are found by binary
// search and string literals read once each, so that a hostile text costs
// time linear in its size.
//
// Imports nothing.

/** One string literal read from a text: its value and where it ends. */
interface Literal {
  readonly value: string;
  readonly end: number;
}

class Scan {
  readonly #text: string;
  /** Sorted positions of every "*" of a "*\/" (comment ends). */
  readonly #closes: number[] = [];
  /** Sorted positions of every line terminator. */
  readonly #lines: number[] = [];
  readonly #literals = new Map<number, Literal | null>();

  constructor(text: string) {
    this.#text = text;
    for (let i = text.indexOf("*/"); i !== -1; i = text.indexOf("*/", i + 1)) {
      this.#closes.push(i);
    }
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) {
        this.#lines.push(i);
      }
    }
  }

  /** The first value of `sorted` at or after `at`, or -1. */
  static #next(sorted: number[], at: number): number {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! < at) lo = mid + 1;
      else hi = mid;
    }
    return lo < sorted.length ? sorted[lo]! : -1;
  }

  /** The position after white space and comments from `i`. */
  gap(i: number): number {
    const t = this.#text;
    while (i < t.length) {
      const c = t[i]!;
      if (/\s/.test(c)) {
        i++;
      } else if (c === "/" && t[i + 1] === "*") {
        const close = Scan.#next(this.#closes, i + 2);
        if (close === -1) return t.length;
        i = close + 2;
      } else if (c === "/" && t[i + 1] === "/") {
        const line = Scan.#next(this.#lines, i + 2);
        if (line === -1) return t.length;
        i = line + 1;
      } else {
        return i;
      }
    }
    return i;
  }

  /** The string literal (or template literal without substitutions) that
   * starts at `i`, if one does. */
  literal(i: number): Literal | null {
    const known = this.#literals.get(i);
    if (known !== undefined) return known;
    const found = this.#read(i);
    this.#literals.set(i, found);
    return found;
  }

  #read(start: number): Literal | null {
    const t = this.#text;
    const quote = t[start];
    if (quote !== '"' && quote !== "'" && quote !== "`") return null;
    let out = "";
    for (let i = start + 1; i < t.length; i++) {
      const c = t[i]!;
      if (c === quote) return { value: out, end: i + 1 };
      if (quote === "`" && c === "$" && t[i + 1] === "{") return null;
      if (quote !== "`" && (c === "\n" || c === "\r")) return null;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.#escape(i + 1);
      if (e === null) return null;
      out += e.value;
      i = e.end - 1;
    }
    return null;
  }

  /** The escape sequence whose letter is at `i` (after a backslash). */
  #escape(i: number): Literal | null {
    const t = this.#text;
    const c = t[i];
    if (c === undefined) return null;
    const simple: Record<string, string> = {
      n: "\n",
      r: "\r",
      t: "\t",
      b: "\b",
      f: "\f",
      v: "\v",
      "0": "\0",
    };
    if (c === "x") {
      const hex = t.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/i.test(hex)) return null;
      return { value: String.fromCharCode(parseInt(hex, 16)), end: i + 3 };
    }
    if (c === "u") {
      if (t[i + 1] === "{") {
        const close = t.indexOf("}", i + 2);
        const hex = close === -1 ? "" : t.slice(i + 2, close);
        if (!/^[0-9a-f]{1,6}$/i.test(hex)) return null;
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) return null;
        return { value: String.fromCodePoint(code), end: close + 1 };
      }
      const hex = t.slice(i + 1, i + 5);
      if (!/^[0-9a-f]{4}$/i.test(hex)) return null;
      return { value: String.fromCharCode(parseInt(hex, 16)), end: i + 5 };
    }
    // A line continuation adds nothing.
    if (c === "\r" && t[i + 1] === "\n") return { value: "", end: i + 2 };
    if (c === "\n" || c === "\r" || c === "\u2028" || c === "\u2029") {
      return { value: "", end: i + 1 };
    }
    return { value: Object.hasOwn(simple, c) ? simple[c]! : c, end: i + 1 };
  }

  /** Every specifier the text may import. */
  specifiers(): string[] {
    const t = this.#text;
    const out: string[] = [];
    const keyword = /\b(import|from|require)\b/g;
    for (let m = keyword.exec(t); m !== null; m = keyword.exec(t)) {
      let at = this.gap(m.index + m[0].length);
      if (t[at] === "(") {
        at = this.gap(at + 1);
      } else if (m[0] === "require") continue;
      const lit = this.literal(at);
      if (lit !== null) out.push(lit.value);
    }
    // A JSX pragma names a package whose jsx-runtime module is imported.
    const pragma = /@jsxImportSource(?:Types)?\s+([^\s*]+)/g;
    for (let m = pragma.exec(t); m !== null; m = pragma.exec(t)) {
      out.push(`${m[1]}/jsx-runtime`, `${m[1]}/jsx-dev-runtime`);
    }
    return out;
  }
}

/** The specifiers a module's source text may import. */
export function scanSpecifiers(text: string): string[] {
  return new Scan(text).specifiers();
}
