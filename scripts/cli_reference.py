"""Write docs/cli.md from the commands' own --help, and the settings table in docs/settings.md from the
declared settings (run after changing an option, a docstring or a setting)."""

from pathlib import Path

from replies.cli import main
from replies.cli.config import settings_table
from replies.cli.reference import reference, with_settings_table

if __name__ == "__main__":
    docs = Path(__file__).resolve().parent.parent / "docs"
    (docs / "cli.md").write_text(reference(main), encoding="utf-8")
    page = docs / "settings.md"
    page.write_text(with_settings_table(page.read_text(encoding="utf-8"), settings_table()), encoding="utf-8")
    print(f"wrote {docs / 'cli.md'} and the table in {page}")
