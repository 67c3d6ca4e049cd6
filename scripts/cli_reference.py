"""Write docs/cli.md from the commands' own --help (run after changing an option or a docstring)."""

from pathlib import Path

from replies.cli import main
from replies.cli.reference import reference

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
    target.write_text(reference(main), encoding="utf-8")
    print(f"wrote {target}")
