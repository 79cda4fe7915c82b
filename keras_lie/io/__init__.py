"""Files: written atomically on disk (`atomic_files`), and the encrypted dataset's manifest (`dataset_manifest`).

Below the keys, so that keys, schemes and data all write files the one safe way.
"""
