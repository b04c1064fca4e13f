"""A page's HTML as a small tree, to read what it shows: elements by attribute, their text."""

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
# Elements whose content is not shown as text.
UNSHOWN = {"script", "style", "template", "title", "head"}
# Elements whose text stands apart from what comes before and after.
BLOCKS = {
    "article", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset", "form", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "legend", "li", "main", "nav", "ol", "option", "p",
    "section", "table", "td", "th", "tr", "ul",
}  # fmt: skip


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self, *, spoken: bool = False) -> str:
        """Return the text the element shows, whitespace collapsed.

        With `spoken`, text only a screen reader reads (``visually-hidden``) is included.
        """
        parts: list[str] = []

        def walk(node) -> None:
            if isinstance(node, str):
                parts.append(node)
            elif (
                node.tag not in UNSHOWN
                and "hidden" not in node.attrs
                and (spoken or "visually-hidden" not in node.classes)
            ):
                gap = " " if node.tag in BLOCKS else ""
                parts.append(gap)
                for child in node.children:
                    walk(child)
                parts.append(gap)

        walk(self)
        return " ".join("".join(parts).split())

    def iter(self):
        """Yield the element and every element inside it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs) -> list["Node"]:
        """Return the elements with the tag (any if None) whose attributes hold these values.

        ``class_`` matches one class among the element's classes.
        """
        wanted_class = attrs.pop("class_", None)
        return [
            node
            for node in self.iter()
            if (tag is None or node.tag == tag)
            and (wanted_class is None or wanted_class in node.classes)
            and all(
                node.attrs.get(name.replace("_", "-")) == value for name, value in attrs.items()
            )
        ]

    def find(self, tag: str | None = None, **attrs) -> "Node":
        """Return the one element that matches; fail if there is none or more than one."""
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} elements match {tag} {attrs}"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str | bytes) -> Node:
    """Return the document's tree."""
    builder = _Builder()
    builder.feed(html.decode() if isinstance(html, bytes) else html)
    builder.close()
    return builder.root
