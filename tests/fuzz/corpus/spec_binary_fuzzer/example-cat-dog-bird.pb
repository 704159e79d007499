
U
cat-dog-bird

cat_dog_bird¸
 
 2		ü©ñÒMbP?B  *)š™™™™™É?