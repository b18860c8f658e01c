"""Write a schema-1 label store with the label code of main 515164c (run with that code on the path)."""
import sys
from casiglo_gui.core.labels import LabelEvent, LabelStore
from casiglo_gui.core.labels.store import schema_version_supported
assert schema_version_supported() == 1
path = sys.argv[1]
with LabelStore.open(path) as store:
    store.add_events([
        LabelEvent("spec-0266-51602-0013", "probable", "alice", source="/data/spec-0266-51602-0013.fits",
                   time="2024-05-01T12:30:00Z", z_bg=0.512345678901234, lines={"oiii_5008": True, "hbeta": False},
                   flags={"sky_residual"}, comment='first look, "maybe"\nsecond line ✓', model_version="casiglo-cnn-v3",
                   score=0.948, ra=146.62404, dec=-0.5, z_fg=0.12132, uid="v1event0001"),
        LabelEvent("spec-0266-51602-0013", "likely", "alice", time="2024-05-02T08:00:00Z", z_bg=0.51235,
                   uid="v1event0002"),
        LabelEvent("spec-0266-51602-0013", "none", "bob", time="2024-05-01T13:00:00Z", uid="v1event0003"),
        LabelEvent("spec-0266-51602-0013", "likely", "carol", adjudicated=True, time="2024-05-03T00:00:00Z",
                   z_bg=0.51234, comment="clear doublet", uid="v1event0004"),
        LabelEvent("SYNTHETIC-9001", "possible", "alice", time="2024-05-04T00:00:00Z", z_fg=0.3, uid="v1event0005"),
    ])
