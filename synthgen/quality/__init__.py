"""Data-quality gates: normalisation, near-duplicates, language identity.

Import the modules directly (`synthgen.quality.neardup.NearDupIndex`,
`synthgen.quality.langid.LanguageChecker`, `synthgen.quality.textnorm.normalize`): this package
imports nothing itself, so `import synthgen` stays fast and numpy, rensa and py3langid load only
when a gate is used.
"""
