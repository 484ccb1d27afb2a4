"""Data-quality checks: normalisation, near-duplicates, language identity, the example checker.

Import the modules directly (`synthgen.quality.checks.ExampleChecker`,
`synthgen.quality.neardup.NearDupStore`, `synthgen.quality.langid.LanguageChecker`): this package
imports nothing itself, so `import synthgen` stays fast and numpy, rensa and py3langid load only
when a check is used.
"""
