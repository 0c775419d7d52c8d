"""Print the unzipped size of every built layer and function (with its layers), against Lambda's
250 MB limit, and check that no layer ships development-only packages."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

LIMIT_MB = 250
#: Packages that are for development or the local stack only; a built layer must not contain them.
DEV_ONLY = ("autovid_cli", "sam_emulator", "tqdm", "moto", "moviepy", "pytest", "cfnlint", "grandalf")


class _CfnLoader(yaml.SafeLoader):
    """Reads the built template, keeping CloudFormation short-form tags as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}


_CfnLoader.add_multi_constructor("!", _any_tag)


def tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(build_dir: str) -> int:
    build = Path(build_dir)
    template = yaml.load((build / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506 - safe loader subclass
    resources = template["Resources"]
    layer_sizes = {
        name: tree_size(build / name)
        for name, res in resources.items()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    }
    shipped_dev_code = []
    print(f"{'layer':<26}{'MB':>9}")
    for name, size in sorted(layer_sizes.items()):
        print(f"{name:<26}{size / 1e6:>9.1f}")
        top_level = {path.name.split("-")[0] for path in (build / name / "python").glob("*")}
        shipped_dev_code += [f"{name}: {package}" for package in DEV_ONLY if package in top_level]
    if shipped_dev_code:
        print("development-only packages in a layer: " + ", ".join(shipped_dev_code))
    print()
    global_layers = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    worst = 0.0
    print(f"{'function':<26}{'code MB':>9}{'layers MB':>11}{'total MB':>10}")
    for name, res in sorted(resources.items()):
        if res["Type"] != "AWS::Serverless::Function":
            continue
        refs = global_layers + res["Properties"].get("Layers", [])
        layers = {ref["Ref"] for ref in refs if isinstance(ref, dict) and "Ref" in ref}
        code = tree_size(build / name) / 1e6
        layers_mb = sum(layer_sizes.get(layer, 0) for layer in layers) / 1e6
        total = code + layers_mb
        worst = max(worst, total)
        print(f"{name:<26}{code:>9.1f}{layers_mb:>11.1f}{total:>10.1f}")
    print(f"largest: {worst:.1f} MB of {LIMIT_MB} MB")
    return 0 if worst < LIMIT_MB and not shipped_dev_code else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
