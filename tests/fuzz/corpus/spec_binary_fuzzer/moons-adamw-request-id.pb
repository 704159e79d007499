
[
moons

moonsd	
 231	{®Gáz„?š™™™™™é?®Gáz®ï?!H¯¼šò×z>){®Gáz„?08Bretry-moons-adamw