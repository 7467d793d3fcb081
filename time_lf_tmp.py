import time, os, sys
sys.path.insert(0, os.getcwd())
from workbench.recipes import layer_fusion
t=time.perf_counter()
r=layer_fusion.run(layer_fusion.Params())
print("default run", time.perf_counter()-t)
print(r.summary())
