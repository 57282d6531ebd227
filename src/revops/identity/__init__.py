"""Identity resolution: duplicate detection, merge with survivorship, lead-to-account matching.

Submodules are imported directly (``from revops.identity.merge import merge``); this
package initialiser stays empty so its modules can be developed independently.
"""
