#!/usr/bin/env python3
"""The architecture pictures of docs/architecture.md, and the layering rule of the package.

    python3 scripts/architecture.py           # writes docs/architecture/modules.dot and renders every .dot to .svg
    python3 scripts/architecture.py --check   # renders into a temporary directory and compares (CI); exit 1 on a
                                              # difference, a layering violation or a name the code does not know

docs/architecture/modules.dot is generated from Package.swift (`swift package dump-package`): one cluster per layer
(the folder under Sources/), one node per target under Sources/ with its external products in small print, one edge
per dependency on another target of the package. docs/architecture/system.dot is written by hand; the check makes
sure every topic, consumer group and PostgreSQL object it names is one the code names.

The layers, bottom to top, and the layers a target of each may depend on (besides its own layer):

    Shims        C system libraries (module maps)     nothing
    Support      what every process needs             nothing of the package
    Wrappers     safe Swift over the C libraries      Shims, Support
    Standard     the Usage Tracking Standard, no I/O  nothing
    Stages       pure logic on the standard           Standard, Support
    Stores       the standard's data in Kafka and     Stages, Wrappers, Standard, Support
                 PostgreSQL
    Services     the long-running parts of a process  Stores, Stages, Standard, Wrappers, Support
    Development  simulation and local servers for the Stages, Standard, Wrappers, Support
                 demo, the tests and the benchmarks
    CLI          the ferris-usage command             every layer but Shims

Why this order: Support (ProcessSupport) imports nothing of the package and is used from Wrappers up, so it sits
just above the C shims; only Wrappers touch C. Standard and Stages stay free of I/O (Stages may use Support's clock
and backoff values); Stores may keep a model of the Stages (the price book), never the other way round.
Development sits above Services so that no production module can import it (a Services target depending on
Development is a violation), and below the CLI, its only user in Sources/ (the tests and benchmarks are outside
Sources/ and not drawn). Every allowed layer is lower than the layer itself, so the graph has no cycles between
layers. After any change to Package.swift, run this script and commit docs/architecture/.

Python 3 standard library only; needs `swift` and Graphviz's `dot` (Debian package graphviz) on PATH.
"""

import difflib
import html
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "architecture")

# Bottom to top: (layer, what it is, the other layers it may depend on).
LAYERS = [
    ("Shims", "C system libraries", []),
    ("Support", "what every process needs", []),
    ("Wrappers", "safe Swift over the C libraries", ["Shims", "Support"]),
    ("Standard", "the Usage Tracking Standard, no I/O", []),
    ("Stages", "pure logic on the standard", ["Standard", "Support"]),
    ("Stores", "the standard's data in Kafka and PostgreSQL", ["Stages", "Wrappers", "Standard", "Support"]),
    ("Services", "the long-running parts of a process", ["Stores", "Stages", "Standard", "Wrappers", "Support"]),
    ("Development", "demo, tests and benchmarks only", ["Stages", "Standard", "Wrappers", "Support"]),
    ("CLI", "the ferris-usage command",
     ["Development", "Services", "Stores", "Stages", "Standard", "Wrappers", "Support"]),
]
ORDER = {name: index for index, (name, _, _) in enumerate(LAYERS)}
ALLOWED = {name: set(allowed) | {name} for name, _, allowed in LAYERS}
assert all(ORDER[other] < ORDER[name] for name, _, allowed in LAYERS for other in allowed), "a layer may only use lower ones"
DRAWN_TYPES = {"regular", "executable", "system"}
FONT = "DejaVu Sans"  # fonts-dejavu-core: the text metrics, hence the layout, depend on the font found


class Failure(Exception):
    pass


def run(command, cwd=ROOT):
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        hint = " (Debian package graphviz; scripts/setup.sh installs it)" if command[0] == "dot" else ""
        raise Failure(f"`{command[0]}` not found on PATH{hint}")
    if result.returncode != 0:
        raise Failure(f"`{' '.join(command)}` failed:\n{result.stderr.strip()}")
    return result.stdout


def dump_package():
    # A scratch path of its own, so that a build running in .build does not hold the command up.
    with tempfile.TemporaryDirectory(prefix="architecture-scratch.") as scratch:
        return json.loads(run(["swift", "package", "--package-path", ROOT, "--scratch-path", scratch, "dump-package"]))


def dependency_names(target):
    """The package's targets a target depends on, and the external products it uses, each sorted."""
    internal, external = set(), set()
    for dependency in target.get("dependencies", []):
        if "byName" in dependency:
            internal.add(dependency["byName"][0])
        elif "target" in dependency:
            internal.add(dependency["target"][0])
        elif "product" in dependency:
            external.add(dependency["product"][0])
    return sorted(internal), sorted(external)


def targets_by_layer(package):
    """{layer: [(name, type, internal dependencies, external products, pkg-config name)]}, each list sorted."""
    names = {target["name"] for target in package["targets"]}
    layers, problems = {name: [] for name, _, _ in LAYERS}, []
    for target in package["targets"]:
        path = target.get("path") or ""
        if target["type"] not in DRAWN_TYPES or not path.startswith("Sources/"):
            continue
        parts = path.split("/")
        layer = parts[1] if len(parts) >= 3 else None
        if layer not in ORDER:
            problems.append(f"{target['name']} ({path}): its path must be Sources/<layer>/<target>, <layer> one of "
                            + ", ".join(ORDER))
            continue
        internal, external = dependency_names(target)
        internal = [name for name in internal if name in names]
        layers[layer].append((target["name"], target["type"], internal, external, target.get("pkgConfig")))
    if problems:
        raise Failure("\n".join(problems))
    for layer in layers:
        layers[layer].sort()
    return layers


def layering_violations(layers):
    layer_of = {name: layer for layer, targets in layers.items() for name, *_ in targets}
    violations = []
    for layer, targets in layers.items():
        for name, _, internal, _, _ in targets:
            for dependency in internal:
                if dependency not in layer_of:
                    violations.append(f"{name} ({layer}) depends on {dependency}, which is not under Sources/")
                elif layer_of[dependency] not in ALLOWED[layer]:
                    allowed = ", ".join(sorted(ALLOWED[layer] - {layer}, key=ORDER.get)) or "no other layer"
                    violations.append(f"{name} ({layer}) depends on {dependency} ({layer_of[dependency]}); "
                                      f"{layer} may depend on its own layer and {allowed}")
    return violations


def implied(uses, name, dependency):
    """Whether `name` reaches `dependency` through another of its dependencies."""
    seen, stack = set(), [other for other in uses[name] if other != dependency]
    while stack:
        current = stack.pop()
        if current == dependency:
            return True
        if current not in seen:
            seen.add(current)
            stack.extend(uses.get(current, ()))
    return False


def modules_dot(layers):
    def node_id(name):
        return '"' + name + '"'

    lines = [
        "// Generated by scripts/architecture.py from Package.swift: do not edit, run the script.",
        "// One cluster per layer (Sources/<layer>/<target>), bottom to top; an arrow points at what a target uses.",
        "// Every target's direct dependencies within the package (the arrows leave out those a longer path implies):",
        *(f"//   {name} ({layer}): {', '.join(internal) or '-'}"
          for layer, _, _ in reversed(LAYERS) for name, _, internal, _, _ in layers[layer]),
        "digraph modules {",
        f'  graph [rankdir=TB, newrank=true, nodesep=0.25, ranksep=0.45, fontname="{FONT}", fontsize=11, '
        'labeljust=l, compound=true];',
        f'  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="{FONT}", fontsize=11, '
        'margin="0.1,0.04"];',
        '  edge [color="#555555", arrowsize=0.6];',
        '  label=<An arrow: uses (one implied by a longer path is left out). Small print: external products. '
        'Generated from Package.swift by scripts/architecture.py.>; labelloc=b; fontsize=10;',
    ]
    colors = {"Shims": "#eeeeee", "Support": "#f3ecd9", "Wrappers": "#e5eef7", "Standard": "#e3f1e3",
              "Stages": "#eaf5e9", "Stores": "#e8e6f4", "Services": "#f6e6e6", "Development": "#f2f2f2",
              "CLI": "#fbf3d9"}
    for layer, description, allowed in reversed(LAYERS):
        targets = layers[layer]
        if not targets:
            continue
        may = ", ".join(allowed) if allowed else "nothing of the package"
        lines.append(f'  subgraph "cluster_{layer}" {{')
        lines.append(f'    label=<{layer}: {description} <br align="left"/><font point-size="9">uses {may}</font><br align="left"/>>;')
        lines.append(f'    style="rounded,filled"; fillcolor="{colors[layer]}"; color="#999999"; labelloc=t;')
        for name, kind, _, external, pkg_config in targets:
            small = []
            if kind == "system" and pkg_config:
                small.append(f"pkg-config {pkg_config}")
            if kind == "executable":
                small.append("executable")
            for start in range(0, len(external), 3):  # three products a line keeps the nodes narrow
                small.append(", ".join(external[start:start + 3]))
            extra = "".join(f'<br/><font point-size="8" color="#555555">{text}</font>' for text in small)
            lines.append(f"    {node_id(name)} [label=<{name}{extra}>];")
        lines.append("  }")
    # Invisible edges keep the layers in their order even where no dependency links two neighbours: every target of
    # a layer sits above an invisible point, which sits above every target of the next lower layer.
    present = [layer for layer, _, _ in reversed(LAYERS) if layers[layer]]
    for upper, lower in zip(present, present[1:]):
        anchor = node_id("below " + upper)
        lines.append(f"  {anchor} [shape=point, style=invis, width=0, height=0, label=\"\"];")
        lines.extend(f"  {node_id(name)} -> {anchor} [style=invis];" for name, *_ in layers[upper])
        lines.extend(f"  {anchor} -> {node_id(name)} [style=invis];" for name, *_ in layers[lower])
    # One arrow per dependency, except one implied by a longer path (A -> C when A -> B -> C): the drawing stays
    # legible; every direct dependency is listed above the graph and checked against the layers.
    uses = {name: set(internal) for targets in layers.values() for name, _, internal, _, _ in targets}
    layer_of = {name: layer for layer, targets in layers.items() for name, *_ in targets}
    for name, dependency in sorted((name, dependency) for name in uses for dependency in uses[name]):
        if dependency in layer_of and not implied(uses, name, dependency):
            attributes = ' [color="#b0b0b0"]' if layer_of[name] == "CLI" else ""
            lines.append(f"  {node_id(name)} -> {node_id(dependency)}{attributes};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_file, svg_file):
    svg = run(["dot", "-Tsvg", dot_file])
    # Nothing version- or time-dependent: drop dot's generator comment.
    svg = re.sub(r"<!-- Generated by graphviz[^\n]*-->\n", "", svg)
    with open(svg_file, "w", encoding="utf-8") as out:
        out.write(svg)


def dot_version():
    result = subprocess.run(["dot", "-V"], capture_output=True, text=True)
    return (result.stderr or result.stdout).strip()


def names_in_code():
    """Every topic, consumer group and totals table object the code names: string literals in Sources/ (an
    interpolation `\\(x)` read as `<x>`) and names derived from a default (`totalsTopic + ".checkpoints"`)."""
    sources = []
    for directory, _, files in os.walk(os.path.join(ROOT, "Sources")):
        for file in sorted(files):
            if file.endswith(".swift"):
                with open(os.path.join(directory, file), encoding="utf-8") as handle:
                    sources.append(handle.read())
    text = "\n".join(sources)
    known = set()
    for literal in re.findall(r'"((?:ferris[.-]|usage_)[^"\s]*)"', text):
        known.add(re.sub(r"\\\((\w+)\)", r"<\1>", literal))
    defaults = dict(re.findall(r'\bvar (\w+) = "([^"\\]+)"', text))
    defaults["view"] = defaults.get("table", "usage_totals")  # TotalsTableName.view: the topology's sinks.table
    defaults["groupID"] = defaults.get("group", "ferris-usage")
    for base, suffix in re.findall(r'\b(\w+) \+ "([._][\w.]+)"', text):
        if base in defaults:
            known.add(defaults[base] + suffix)
    return known


def unknown_names(system_dot):
    with open(system_dot, encoding="utf-8") as handle:
        text = html.unescape(re.sub(r"(?m)^\s*//.*$", "", handle.read()))
    named = set(re.findall(r"\bferris\.(?:[\w.-]|<\w+>)*(?:\w|<\w+>)", text))
    named |= set(re.findall(r"\bferris-usage\.\w+", text))
    named |= set(re.findall(r"\busage_totals\w*", text))
    return sorted(named - names_in_code())


def generate(directory):
    """Writes modules.dot and every .svg into `directory` (system.dot is read from docs/architecture/)."""
    layers = targets_by_layer(dump_package())
    violations = layering_violations(layers)
    with open(os.path.join(directory, "modules.dot"), "w", encoding="utf-8") as out:
        out.write(modules_dot(layers))
    render(os.path.join(directory, "modules.dot"), os.path.join(directory, "modules.svg"))
    render(os.path.join(OUT, "system.dot"), os.path.join(directory, "system.svg"))
    return violations


def main(arguments):
    check = arguments == ["--check"]
    if arguments and not check:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        problems = []
        unknown = unknown_names(os.path.join(OUT, "system.dot"))
        if unknown:
            problems.append("docs/architecture/system.dot names what no code in Sources/ names (a topic, group or "
                            "table renamed?): " + ", ".join(unknown) + "; fix the picture")
        if check:
            with tempfile.TemporaryDirectory(prefix="architecture.") as fresh:
                violations = generate(fresh)
                for file in ("modules.dot", "modules.svg", "system.svg"):
                    committed = os.path.join(OUT, file)
                    if not os.path.exists(committed):
                        problems.append(f"docs/architecture/{file} is missing")
                        continue
                    with open(committed, encoding="utf-8") as a, open(os.path.join(fresh, file), encoding="utf-8") as b:
                        old, new = a.read().splitlines(), b.read().splitlines()
                    if old != new:
                        diff = list(difflib.unified_diff(old, new, f"docs/architecture/{file} (checked in)",
                                                         f"{file} (from the current sources)", lineterm="", n=1))
                        shown = "\n".join("    " + line for line in diff[:24])
                        more = f"\n    ... {len(diff) - 24} more lines" if len(diff) > 24 else ""
                        problems.append(f"docs/architecture/{file} differs from what Package.swift and "
                                        f"docs/architecture/system.dot give:\n{shown}{more}")
                if any("differs" in problem or "missing" in problem for problem in problems):
                    problems.append("to fix: run `python3 scripts/architecture.py` and commit docs/architecture/ "
                                    f"(this machine has {dot_version()}; the checked-in pictures come from "
                                    "Debian 12's graphviz package, and another Graphviz may lay them out differently)")
        else:
            violations = generate(OUT)
            print("architecture: wrote docs/architecture/modules.dot, modules.svg and system.svg")
        if violations:
            problems.append("layering violated (see the layer table in scripts/architecture.py and "
                            "docs/architecture.md):\n" + "\n".join("    " + line for line in violations))
        if problems:
            for problem in problems:
                print(f"architecture: {problem}", file=sys.stderr)
            return 1
        if check:
            print("architecture: docs/architecture/ matches Package.swift and system.dot; layering respected")
        return 0
    except Failure as failure:
        print(f"architecture: {failure}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
