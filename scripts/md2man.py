#!/usr/bin/python3
"""Turn a manual page written in a small subset of Markdown into roff (man(7)).

    md2man.py [--version TEXT] [--manual TEXT] [--date YYYY-MM-DD] [--set KEY=VALUE]...
              PAGE.md -o NAME.SECTION

The pages live in docs/man/ and meson builds them (docs/man/meson.build). The subset:

    # name(8) -- one-line summary      the title; becomes .TH and the NAME section
    ## SECTION                         .SH
    ### Subsection                     .SS
    text lines                         a paragraph (.PP); a blank line ends it
    term                               a definition (.TP): the term on one line, then
    :   definition                     ": " and its text, continued on lines indented
        more definition                by at least two spaces
    * item                             a bullet list (.IP); continuation lines indented
    ```                                a literal block (.EX/.EE), kept as it is
    `code`  **strong**  *emphasis*     bold, bold, italic
    @KEY@                              the value --set KEY=VALUE gives (installation paths)

Anything else that Markdown would treat specially (tables, headings deeper than ###, raw
HTML, links) is refused with the line it is on, so a page never renders half-formatted.
The date is --date, else $SOURCE_DATE_EPOCH (reproducible package builds), else the page's
modification time.
"""

import argparse
import datetime
import os
import re
import sys
from pathlib import Path

TITLE = re.compile(r"^# ([a-z0-9][a-z0-9.+_-]*)\(([1-9][a-z]*)\) -- (.+)$")
INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*")


class PageError(Exception):
    def __init__(self, lineno, message):
        super().__init__(f"line {lineno}: {message}")


def escape(text):
    """Plain text for roff: backslashes escaped, and '-' as \\- so that options render as
    the ASCII hyphen-minus that can be pasted into a shell."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def inline(text):
    """Markdown spans to roff font changes; the rest escaped."""
    out, pos = [], 0
    for m in INLINE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        code, strong, emphasis = m.groups()
        if code is not None:
            out.append(f"\\fB{escape(code)}\\fR")
        elif strong is not None:
            out.append(f"\\fB{escape(strong)}\\fR")
        else:
            out.append(f"\\fI{escape(emphasis)}\\fR")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def roff_lines(text):
    """Text lines as roff input lines: a line must not start with a control character."""
    lines = []
    for line in text.split("\n"):
        line = line.strip()
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return lines


def check_supported(lineno, line):
    if line.startswith("|"):
        raise PageError(lineno, "tables are not supported (use a definition list)")
    if line.startswith("####"):
        raise PageError(lineno, "only #, ## and ### headings are supported")
    if re.match(r"\s*<[a-zA-Z/!]", line):
        raise PageError(lineno, "raw HTML is not supported")
    if re.search(r"\]\([^)]*\)", line):
        raise PageError(lineno, "links are not supported (name the page or file instead)")
    if re.match(r"\s*\d+\. ", line):
        raise PageError(lineno, "numbered lists are not supported (use * items)")


class Converter:
    """The page's body, block by block: lines[0] is line first of the file."""

    def __init__(self, lines, first):
        self.lines, self.first = lines, first
        self.i = 0
        self.out = []

    def lineno(self, offset=0):
        return self.first + self.i + offset

    def peek(self, offset=0):
        j = self.i + offset
        return self.lines[j] if j < len(self.lines) else None

    def continuation(self):
        """The lines indented by at least two spaces from here on (the rest of a list item's
        or a definition's text), consumed and stripped."""
        parts = []
        while self.peek() is not None and re.match(r"  +\S", self.peek()):
            parts.append(self.peek().strip())
            self.i += 1
        return parts

    def emit_text(self, text):
        self.out.extend(roff_lines(inline(text)))

    def literal_block(self):
        start = self.lineno()
        self.i += 1
        body = []
        while True:
            line = self.peek()
            if line is None:
                raise PageError(start, "``` block is not closed")
            self.i += 1
            if line.strip() == "```":
                break
            body.append(line)
        self.out += [".PP", ".RS 4", ".EX"]
        for line in body:
            line = escape(line)
            self.out.append("\\&" + line if line.startswith((".", "'")) else line)
        # groff's .EE turns hyphenation back on.
        self.out += [".EE", ".RE", ".nh"]

    def definition(self):
        term = self.peek()
        definition = [self.peek(1)[1:].strip()]
        self.i += 2
        definition += self.continuation()
        self.out += [".TP"] + roff_lines(inline(term.strip()))
        self.emit_text("\n".join(definition))

    def bullet(self):
        text = [self.peek()[2:].strip()]
        self.i += 1
        text += self.continuation()
        self.out.append(".IP \\(bu 2")
        self.emit_text("\n".join(text))

    def paragraph(self):
        text = []
        while self.peek() not in (None, "") and not self.starts_block(self.i):
            check_supported(self.lineno(), self.peek())
            text.append(self.peek())
            self.i += 1
        self.out.append(".PP")
        self.emit_text("\n".join(text))

    def starts_block(self, j):
        line = self.lines[j]
        nxt = self.lines[j + 1] if j + 1 < len(self.lines) else None
        return (line.startswith("#") or line.strip() == "```" or line.startswith("* ")
                or (nxt is not None and nxt.startswith(": ")))

    def convert(self):
        while self.peek() is not None:
            line = self.peek()
            lineno = self.lineno()
            check_supported(lineno, line)
            nxt = self.peek(1)
            if line == "":
                self.i += 1
            elif line.startswith("### "):
                self.out.append(f'.SS "{escape(line[4:].strip())}"')
                self.i += 1
            elif line.startswith("## "):
                self.out.append(f'.SH "{escape(line[3:].strip().upper())}"')
                self.i += 1
            elif line.startswith("#"):
                raise PageError(lineno, "the title (# name(section) -- summary) comes once, first")
            elif line.strip() == "```":
                self.literal_block()
            elif nxt is not None and nxt.startswith(": "):
                self.definition()
            elif line.startswith("* "):
                self.bullet()
            elif line.startswith(" "):
                raise PageError(lineno, "an indented line outside a list item or definition")
            else:
                self.paragraph()
        return self.out


def substitute(text, values):
    """@KEY@ replaced by its value; a key without one is an error."""
    def value(m):
        if m.group(1) not in values:
            lineno = text.count("\n", 0, m.start()) + 1
            raise PageError(lineno, f"@{m.group(1)}@ has no value (md2man.py --set)")
        return values[m.group(1)]
    return re.sub(r"@([a-z_]+)@", value, text)


def convert(text, version, date, values=None, manual="rune manual"):
    """The page's roff source, and its name and section."""
    lines = substitute(text, values or {}).rstrip("\n").split("\n")
    m = TITLE.match(lines[0]) if lines else None
    if not m:
        raise PageError(1, "the first line must be: # name(section) -- summary")
    name, section, summary = m.groups()
    head = [
        f'.\\" Generated by scripts/md2man.py from docs/man/{name}.md; edit that file.',
        f'.TH "{name.upper()}" "{section}" "{date}" "{escape(version)}" "{escape(manual)}"',
        # Options and paths must not be hyphenated, nor stretched to fill a line.
        ".nh",
        ".ad l",
        ".SH NAME",
        f"{escape(name)} \\- {inline(summary)}",
    ]
    return "\n".join(head + Converter(lines[1:], first=2).convert()) + "\n", name, section


def page_date(path, explicit):
    if explicit:
        return explicit
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = int(epoch) if epoch else int(path.stat().st_mtime)
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%Y-%m-%d")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("page", type=Path, help="the Markdown page")
    ap.add_argument("-o", "--output", type=Path, required=True,
                    help="the man page, named NAME.SECTION as the page's title says")
    ap.add_argument("--version", default="", help="the footer's source, e.g. 'rune 0.1.0'")
    ap.add_argument("--manual", default="rune manual", help="the header's title")
    ap.add_argument("--date", help="the footer's date (default: see above)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="the text of @KEY@ in the page (repeatable)")
    args = ap.parse_args()
    if any("=" not in kv for kv in args.set):
        ap.error("--set wants KEY=VALUE")
    values = dict(kv.split("=", 1) for kv in args.set)
    try:
        roff, name, section = convert(args.page.read_text(), args.version,
                                      page_date(args.page, args.date), values, args.manual)
    except PageError as e:
        sys.exit(f"md2man: {args.page}: {e}")
    if args.output.name != f"{name}.{section}":
        sys.exit(f"md2man: {args.page}: the title names {name}({section}), "
                 f"but the output is {args.output.name}")
    args.output.write_text(roff)


if __name__ == "__main__":
    main()
